import Foundation

/// A task executor with exactly one thread, for tests that must see a blocked thread: on
/// Linux the global pool keeps one thread per CPU whatever the environment says, so code
/// that blocks one of them goes unnoticed on a machine with two. Work run under
/// `withTaskExecutorPreference(executor)` (and its child tasks) shares this one thread: a
/// blocking call anywhere in it stops everything else there.
public final class OneThreadExecutor: TaskExecutor, @unchecked Sendable {
    // Guarded by `condition`: the jobs waiting for the thread.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    public init() {
        let thread = Thread { [self] in
            while true {
                condition.lock()
                while jobs.isEmpty { condition.wait() }
                let job = jobs.removeFirst()
                condition.unlock()
                job.runSynchronously(on: asUnownedTaskExecutor())
            }
        }
        thread.name = "one-thread-executor"
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }
}
