mkdir real; mv job.sh real/job.sh; ln -s "$DIR/real/job.sh" link.sh
