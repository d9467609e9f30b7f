cp job.sh job.sh.orig
