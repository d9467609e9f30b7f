mkdir -p wd
