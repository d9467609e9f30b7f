cat > fake/scp.sh <<'X'
X
