mv job.sh job.fc.00.sh
