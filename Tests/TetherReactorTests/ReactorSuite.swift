import Testing

/// Every reactor test runs in this serialized suite: the fd and child-process leak checks count
/// process-wide resources, which a concurrently running test would disturb. Tests of the other
/// targets share the process too, so the run needs `swift test --no-parallel` (as `make test`
/// runs it). Each test has two minutes: a hang fails that test instead of the run.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ReactorSuite {}
