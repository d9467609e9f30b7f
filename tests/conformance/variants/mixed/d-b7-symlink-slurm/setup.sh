ln -s job.sh link.sh
