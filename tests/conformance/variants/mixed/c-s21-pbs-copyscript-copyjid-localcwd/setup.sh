mkdir -p wd/out
