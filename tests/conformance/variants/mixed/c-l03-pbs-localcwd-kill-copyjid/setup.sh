mkdir -p wd/out; echo 307.s > wd/out/job.sh.jid
