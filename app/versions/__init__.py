"""Versioned content, one mechanism for every kind of it (journeys with their events,
onboardings with their steps and form): the live definition and item rows are the draft;
publishing snapshots them as immutable version rows; users and runs read versions; open runs
move to a newer version when an admin upgrades them. Each kind describes its tables once
(:class:`app.versions.kinds.VersionedKind`) and specialises the little that differs."""
