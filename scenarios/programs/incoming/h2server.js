// An HTTP/2 server without TLS (h2c, prior knowledge; node's http2)
// answering WORD to every stream, one line per request on stdout:
// METHOD PATH X-REQ BODY_BYTES.  Its own service in the target too.
//   node h2server.js WORD PORT
'use strict';
const http2 = require('http2');
const [word, port] = process.argv.slice(2);
const server = http2.createServer();
server.on('stream', (stream, headers) => {
  let n = 0;
  stream.on('data', (d) => { n += d.length; });
  stream.on('end', () => {
    process.stdout.write(`${headers[':method']} ${headers[':path']} ${headers['x-req'] || '-'} ${n}\n`);
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(word + '\n');
  });
});
server.listen(Number(port), '0.0.0.0');
