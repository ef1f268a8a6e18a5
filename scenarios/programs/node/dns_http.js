// Node (libuv, c-ares): dns.lookup (getaddrinfo), dns.resolve4 (c-ares over
// UDP to the target's DNS server), and http.get of a cluster-only API.
const dns = require("dns");
const http = require("http");

function lookup(name) {
  return new Promise((res) =>
    dns.lookup(name, { family: 4 }, (err, addr) =>
      res(`lookup ${name}: ${err ? err.code : "ok"}`)));
}
function resolve(name) {
  return new Promise((res) =>
    dns.resolve4(name, (err, addrs) =>
      res(`resolve4 ${name}: ${err ? err.code : addrs.length + " address(es)"}`)));
}
function get(url) {
  return new Promise((res) => {
    http.get(url, (r) => {
      let body = "";
      r.on("data", (d) => (body += d));
      r.on("end", () => res(`GET ${url}: ${r.statusCode} ${JSON.stringify(body)}`));
    }).on("error", (e) => res(`GET ${url}: ${e.code}`));
  });
}

(async () => {
  for (const n of ["api.cluster", "api", "dns-only.cluster", "nope.cluster"])
    console.log(await lookup(n));
  for (const n of ["api.cluster", "dns-only.cluster", "nope.cluster"])
    console.log(await resolve(n));
  console.log(await get("http://api.cluster:8080/hello.txt"));
  console.log(await get("http://api:8080/missing"));
})();
