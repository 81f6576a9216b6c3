"""Admin reports on runs, one mechanism for every kind of versioned content (app/reports/runs.py);
each kind says how a run's progress and its items' figures are read (app/progress/report.py for
journeys, app/onboarding/report.py for onboardings)."""
