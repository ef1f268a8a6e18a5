// Node client for tests/net: c-ares (dns.resolve4, dns.getServers) reads the
// target's resolv.conf and queries the cluster DNS over UDP; http.get goes
// through getaddrinfo (dns.lookup) and a TCP connect.
const dns = require('dns');
const http = require('http');
const host = process.argv[2] || 'api.cluster';
const port = process.argv[3] || '8080';

function resolve4(name) {
  return new Promise((ok) => dns.resolve4(name, (e, a) => ok(e ? 'error ' + e.code : a.join(','))));
}
function lookup(name) {
  return new Promise((ok) => dns.lookup(name, { family: 4 }, (e, a) => ok(e ? 'error ' + e.code : a)));
}
function get(url) {
  return new Promise((ok) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => ok(res.statusCode + ' ' + res.headers['content-length'] + '\n' + body));
    }).on('error', (e) => ok('error ' + e.code + '\n'));
  });
}
(async () => {
  console.log('servers', dns.getServers().join(','));
  console.log('resolve4', host, await resolve4(host));
  console.log('resolve4 dns-only.cluster', await resolve4('dns-only.cluster'));
  console.log('resolve4 no-such.cluster', await resolve4('no-such.cluster'));
  console.log('lookup', host, await lookup(host));
  process.stdout.write('get ' + (await get(`http://${host}:${port}/known.txt`)));
  process.stdout.write('get again ' + (await get(`http://${host}:${port}/known.txt`)));
})();
