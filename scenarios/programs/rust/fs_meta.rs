// Rust std's file metadata of target-only files: fs::metadata and
// symlink_metadata (statx), File::metadata (statx on the fd, AT_EMPTY_PATH),
// read_dir's file types and metadata, canonicalize, fs::copy to a local
// file.  Every field but atime (the reference run's first read moves it).
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::time::UNIX_EPOCH;

fn show(what: &str, m: &fs::Metadata) {
    let born = m
        .created()
        .map(|t| format!("{:?}", t.duration_since(UNIX_EPOCH).unwrap()))
        .unwrap_or_else(|e| format!("error {:?}", e.kind()));
    println!(
        "{} mode {:o} nlink {} uid {} gid {} size {} blocks {} blksize {} ino {} dev {} rdev {} \
         mtime {}.{:09} ctime {}.{:09} created {} file {} dir {} symlink {}",
        what, m.mode(), m.nlink(), m.uid(), m.gid(), m.size(), m.blocks(), m.blksize(),
        m.ino(), m.dev(), m.rdev(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec(),
        born, m.is_file(), m.is_dir(), m.file_type().is_symlink()
    );
}

fn main() {
    let app = "/srv/app";
    for p in [app, "/srv/app/config.json", "/srv/app/lib", "/srv/app/lib/mod.js",
              "/srv/app/nope"] {
        match fs::metadata(p) {
            Ok(m) => show(&format!("metadata {}", p), &m),
            Err(e) => println!("metadata {} error {:?}", p, e.kind()),
        }
        match fs::symlink_metadata(p) {
            Ok(m) => show(&format!("symlink_metadata {}", p), &m),
            Err(e) => println!("symlink_metadata {} error {:?}", p, e.kind()),
        }
    }
    for p in ["/srv/app/config.json", "/srv/app/lib"] {
        let f = fs::File::open(p).expect("open");
        show(&format!("file.metadata {}", p), &f.metadata().expect("fstat"));
    }
    let mut names: Vec<_> = fs::read_dir("/srv/app/lib")
        .expect("read_dir")
        .map(|e| e.expect("entry"))
        .collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let ft = e.file_type().expect("file_type");
        show(&format!("entry {:?} (dir {})", e.file_name(), ft.is_dir()),
             &e.metadata().expect("entry metadata"));
    }
    println!("canonicalize {:?}", fs::canonicalize("/srv/app/lib/../config.json"));
    println!("exists {:?} {:?}", fs::exists("/srv/app/config.json").ok(),
             fs::exists("/srv/app/nope").ok());
    let dst = format!("/tmp/rust-fs-meta-{}", std::process::id());
    match fs::copy("/srv/app/lib/mod.js", &dst) {
        Ok(n) => {
            let mut s = String::new();
            fs::File::open(&dst).unwrap().read_to_string(&mut s).unwrap();
            let m = fs::metadata(&dst).unwrap();
            println!("copy {} bytes mode {:o} {:?}", n, m.mode() & 0o777, s);
        }
        Err(e) => println!("copy error {:?}", e.kind()),
    }
    let _ = fs::remove_file(&dst);
}
