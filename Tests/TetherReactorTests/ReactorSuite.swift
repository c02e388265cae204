import Testing

/// Every reactor test runs in this serialized suite: the fd and child-process leak checks count
/// process-wide resources, which a concurrently running test would disturb.
@Suite(.serialized) struct ReactorSuite {}
