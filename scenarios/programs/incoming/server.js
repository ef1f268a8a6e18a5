// An HTTP/1.1 server (node's http) answering WORD to every request, one
// line per request on stdout: METHOD PATH X-REQ BODY_BYTES.
//   node server.js WORD PORT
'use strict';
const http = require('http');
const [word, port] = process.argv.slice(2);
http.createServer((req, res) => {
  let n = 0;
  req.on('data', (d) => { n += d.length; });
  req.on('end', () => {
    process.stdout.write(`${req.method} ${req.url} ${req.headers['x-req'] || '-'} ${n}\n`);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(word + '\n');
  });
}).listen(Number(port), '0.0.0.0');
