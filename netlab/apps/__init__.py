"""Small programs the lab runs inside pods and outside hosts."""
