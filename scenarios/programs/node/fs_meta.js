// Node's file metadata of target-only files: fs.statSync/lstatSync/
// fstatSync (libuv asks the kernel through syscall(SYS_statx)), the JS
// fs.realpathSync (lstat per component), fs.cpSync of a remote tree to a
// local directory, require() of a remote module.  Every field but atime
// (the first read of the reference run moves it) is printed.
const fs = require('fs');
const path = require('path');

function show(what, s) {
  console.log(what, 'mode', s.mode.toString(8), 'nlink', s.nlink, 'uid', s.uid,
              'gid', s.gid, 'size', s.size, 'blocks', s.blocks, 'ino', s.ino,
              'dev', s.dev, 'rdev', s.rdev, 'mtime', s.mtimeMs, 'ctime', s.ctimeMs,
              'birthtime', s.birthtimeMs, 'file', s.isFile(), 'dir', s.isDirectory(),
              'link', s.isSymbolicLink());
}

function attempt(what, f) {
  try { f(); } catch (e) { console.log(what, 'error', e.code); }
}

const app = '/srv/app';
for (const p of [app, `${app}/config.json`, `${app}/lib`, `${app}/lib/mod.js`,
                 `${app}/bin/run.sh`, `${app}/nope`]) {
  attempt(`stat ${p}`, () => show(`stat ${p}`, fs.statSync(p)));
  attempt(`lstat ${p}`, () => show(`lstat ${p}`, fs.lstatSync(p)));
}
for (const p of [`${app}/config.json`, `${app}/lib`]) {
  const fd = fs.openSync(p, 'r');
  show(`fstat ${p}`, fs.fstatSync(fd));
  fs.closeSync(fd);
}
attempt('bigint', () => {
  const s = fs.statSync(`${app}/config.json`, {bigint: true});
  console.log('bigint ino', s.ino, 'mtimeNs', s.mtimeNs, 'birthtimeNs', s.birthtimeNs);
});
attempt('exists', () => console.log('exists', fs.existsSync(`${app}/config.json`),
                                    fs.existsSync(`${app}/nope`)));
// The JS implementation (not .native): lstat and readlink per component.
attempt('realpath', () => console.log('realpath', fs.realpathSync(`${app}/bin/../lib/./mod.js`)));
attempt('realpath.native', () =>
  console.log('realpath.native', fs.realpathSync.native(`${app}/lib/../config.json`)));
attempt('realpath missing', () => fs.realpathSync(`${app}/lib/nope.js`));

// A remote tree copied to a local directory, then listed from there.
const dst = fs.mkdtempSync('/tmp/node-fs-meta-');
attempt('cpSync', () => {
  fs.cpSync(app, path.join(dst, 'copy'), {recursive: true});
  const walk = (d) => {
    for (const e of fs.readdirSync(d, {withFileTypes: true}).sort((a, b) => a.name < b.name ? -1 : 1)) {
      const p = path.join(d, e.name);
      const s = fs.lstatSync(p);
      const rel = path.relative(dst, p);
      if (e.isSymbolicLink()) console.log('copy', rel, '->', fs.readlinkSync(p));
      else if (e.isDirectory()) { console.log('copy', rel, 'dir', (s.mode & 0o777).toString(8)); walk(p); }
      else console.log('copy', rel, (s.mode & 0o777).toString(8), JSON.stringify(fs.readFileSync(p, 'utf8')));
    }
  };
  walk(path.join(dst, 'copy'));
});
fs.rmSync(dst, {recursive: true, force: true});

// require() of a remote module, which requires its sibling.
attempt('require', () => {
  const m = require(`${app}/lib/mod.js`);
  console.log('require', m.name, m.answer(), m.where);
});

// The asynchronous forms (libuv's thread pool), one after the other.
(async () => {
  const s = await fs.promises.stat(`${app}/config.json`);
  show('promises.stat', s);
  const fh = await fs.promises.open(`${app}/lib/mod.js`);
  show('filehandle.stat', await fh.stat());
  await fh.close();
  console.log('promises.readFile', JSON.stringify(await fs.promises.readFile(`${app}/config.json`, 'utf8')));
  console.log('promises.readdir', (await fs.promises.readdir(app)).sort().join(','));
  await new Promise((done) => fs.lstat(`${app}/lib`, (e, l) => {
    if (e) console.log('lstat callback error', e.code); else show('lstat callback', l);
    done();
  }));
  await new Promise((done) => fs.access(`${app}/nope`, (e) => {
    console.log('access callback', e ? e.code : 'ok');
    done();
  }));
  const copy = path.join(fs.mkdtempSync('/tmp/node-fs-meta-'), 'config.json');
  fs.copyFileSync(`${app}/config.json`, copy);
  console.log('copyFileSync', JSON.stringify(fs.readFileSync(copy, 'utf8')),
              (fs.statSync(copy).mode & 0o777).toString(8));
  fs.rmSync(path.dirname(copy), {recursive: true, force: true});
})().catch((e) => console.log('async error', e.code));
