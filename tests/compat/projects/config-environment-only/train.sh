echo "trained with $(python --version)"
