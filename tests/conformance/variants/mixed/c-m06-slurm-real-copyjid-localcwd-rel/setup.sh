mkdir -p wd/out; echo 36 > wd/out/job.sh.jid
