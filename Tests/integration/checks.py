"""The ok/FAIL lines the integration scripts print, and their failure count."""

failures = 0


def report(ok, name, detail=""):
    """Prints `ok   - name` or `FAIL - name` (with up to 20 lines of detail) and counts failures."""
    global failures
    if ok:
        print(f"ok   - {name}")
    else:
        failures += 1
        print(f"FAIL - {name}")
        if detail:
            for line in str(detail).splitlines()[:20]:
                print(f"    {line}")
