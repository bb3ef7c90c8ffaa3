// Package schedule runs the appliance's periodic work: scrub, expiry of
// grants and share links, backups, restore tests and hardening checks. It is
// the one scheduler of the daemon; every periodic task registers here so that
// `tresor status` and the API can show one list of jobs with their last and
// next run.
//
// # Jobs and specs
//
// A [Job] has a unique name, a [Spec] saying when it runs, an optional
// timeout and a Run function. A Spec is written as one of
//
//	every 6h            a fixed interval (Go duration, whole seconds, 1s to 8784h)
//	daily 02:30         every day at 02:30 local time
//	weekly sun 03:00    every week on the given day (mon tue wed thu fri sat sun)
//	monthly 1 04:00     every month on the given day (1 to 31)
//
// Calendar specs are interpreted in the location of the time given to
// [Spec.Next]; the scheduler passes [Clock.Now], which is local time for the
// system clock. A monthly day past the end of a short month means the last
// day of that month ("monthly 31" runs on 28 February). Across daylight
// saving changes a calendar job still runs exactly once per period: a wall
// time that does not exist on the day clocks go forward runs at the shifted
// time (02:30 becomes 03:30 in Europe/Berlin), and a wall time that occurs
// twice on the day clocks go back runs at its first occurrence only.
// "every 24h" is an interval, not a calendar spec, and drifts by an hour
// against the wall clock across such a change.
//
// # State and catch-up
//
// The scheduler keeps a [State] per job in a [Store] (the appliance
// implements it over its metadata store; [MemStore] serves tests): last
// start and end, last result and error, the next run and counters. The
// next run is persisted before a job starts, so a restart never runs a job
// twice for one period. When [Scheduler.Start] finds a job whose NextRun
// has passed (missed while the box was off), a job with CatchUp runs once
// right after start, however many periods were missed; a job without
// CatchUp records the missed run as skipped and waits for its next period.
// A run that was cut short by [Scheduler.Stop], or left unfinished by a
// crash, counts as missed too, so a CatchUp job such as a backup is redone
// after the restart.
//
// # Runs
//
// One job never runs twice at once: a scheduled run that comes due while the
// job still runs is skipped (counted in State.Skips), and [Scheduler.RunNow]
// returns [ErrAlreadyRunning]. A run's context is cancelled on timeout (with
// cause [ErrTimeout]), by [Scheduler.Cancel] and by Stop. A job that panics
// is recovered and recorded as failed; the daemon keeps running. Jobs report
// progress through the function they are given; [Scheduler.Jobs] shows the
// latest report and RunNow streams them.
//
// The package imports no storage code; persistence goes through the two
// methods of [Store].
package schedule
