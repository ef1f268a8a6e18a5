// An HTTP/2 client (h2c prior knowledge, node's http2): N requests GET
// /1 .. /N sent at once as concurrent streams of ONE connection, each with
// x-req: i, and HEADER ('name: value') on the odd ones (1, 3, ...) when
// given; prints each answer's body in request order.
//   node h2client.js URL N [HEADER]
'use strict';
const http2 = require('http2');
const [url, count, header] = process.argv.slice(2);
const n = Number(count);
const client = http2.connect(url);
client.on('error', (e) => { console.error(e.message); process.exit(1); });
const bodies = new Array(n);
let done = 0;
for (let i = 1; i <= n; i++) {
  const h = { ':path': `/${i}`, 'x-req': String(i) };
  if (header && i % 2 === 1) {
    const k = header.slice(0, header.indexOf(':')).trim().toLowerCase();
    h[k] = header.slice(header.indexOf(':') + 1).trim();
  }
  const req = client.request(h);
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { body += d; });
  req.on('error', (e) => { console.error(`/${i}: ${e.message}`); process.exit(1); });
  req.on('end', () => {
    bodies[i - 1] = body.trim();
    if (++done === n) {
      client.close();
      console.log(bodies.join('\n'));
    }
  });
  req.end();
}
