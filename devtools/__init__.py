"""Developer tools behind ./kff (demo, bench, package) and the test harness. Not shipped."""
