#!/bin/sh
# Regenerates dotgit/ (the .git directory of scenarios/git-make.yaml's
# checkout /srv/work) deterministically: fixed names and dates, one pack.
# target.files writes regular files only, so the repository is shipped as
# its files.  Run from this directory: sh make-repo.sh
set -eu
here=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export GIT_AUTHOR_NAME=shunt GIT_AUTHOR_EMAIL=shunt@example.invalid
export GIT_COMMITTER_NAME=shunt GIT_COMMITTER_EMAIL=shunt@example.invalid
export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
export GIT_CONFIG_NOSYSTEM=1 HOME=$tmp
git init -q -b main work
cd work
printf 'shunt remote checkout\n' > README
printf 'one\ntwo\nthree\n' > lines.txt
git add README lines.txt
git commit -q -m 'first: README and lines'
export GIT_AUTHOR_DATE='2026-01-02T00:00:00Z' GIT_COMMITTER_DATE='2026-01-02T00:00:00Z'
printf 'one\ntwo\nthree\nfour\n' > lines.txt
mkdir src && printf 'int main(void) { return 0; }\n' > src/main.c
git add lines.txt src/main.c
git commit -q -m 'second: four lines and src'
git repack -q -a -d
rm -rf .git/hooks .git/info .git/logs .git/description .git/COMMIT_EDITMSG .git/ORIG_HEAD
rm -rf "$here/dotgit"
cp -r .git "$here/dotgit"
find "$here/dotgit" -type d -empty -delete
find "$here/dotgit" -type f | sed "s|^$here/||" | sort
