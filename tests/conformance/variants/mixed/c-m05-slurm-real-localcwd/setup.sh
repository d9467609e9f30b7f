mkdir wd
