mkdir -p rel
