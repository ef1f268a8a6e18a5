"""Prints the environment the program sees: the target's variables, one
set for the program, and whether a local-only variable leaked in."""
import os

for name in sorted(os.environ):
    if name.startswith(("APP_", "DB_", "FEATURE_")):
        print(f"{name}={os.environ[name]}")
print("LOCAL_ONLY_SECRET" in os.environ and "local variable visible" or "local variable absent")
print("PATH set:", bool(os.environ.get("PATH")))
print("getenv APP_MODE:", os.getenv("APP_MODE"))
