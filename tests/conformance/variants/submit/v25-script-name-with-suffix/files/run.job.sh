#!/bin/sh
# troika name=a
echo
