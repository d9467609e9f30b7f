mkdir o
