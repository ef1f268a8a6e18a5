#!/bin/sh
# fork/exec chains: pipelines, subshells, command substitution, xargs,
# a nested sh -c, and a script that exists only in the target.

echo "mode: $APP_MODE"
cat /etc/app/users.csv | cut -d, -f2 | sort | uniq -c | sort -rn
n=$(grep -c , /etc/app/users.csv)
echo "rows: $n"
( cd /etc/app && ls | wc -l ) 2>/dev/null
find /etc/app -type f | sort | xargs -n 1 wc -c | sort -k2
sh -c 'sh -c "head -n 2 /etc/app/users.csv | tr a-z A-Z"'
sh /etc/app/only-remote.sh one two
echo "$(hostname) $(cat /etc/hostname)"
