using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using Scheduler.Worker.Registration;

namespace Scheduler.Tests.Worker.Registration;

/// <summary>
/// What a worker logs while the scheduler is unreachable: it logged a warning for every failed heartbeat or
/// registration, every ~2 s for as long as the outage lasted (~1,800 lines an hour per worker).
/// </summary>
public sealed class OutageLogTests : IDisposable
{
    private const string Silo = "http://10.0.0.1:5000";
    private static readonly TimeSpan Attempt = TimeSpan.FromSeconds(2);

    private readonly CapturedLogs _logs = new();
    private readonly FakeTimeProvider _time = new();
    private readonly OutageLog _outage;

    public OutageLogTests() => _outage = new OutageLog("outage-node", _time, _logs.CreateLogger("outage"));

    public void Dispose() => _logs.Dispose();

    [Fact]
    public void AnOutage_IsLoggedInFullOnce_ThenSummarizedOnceAMinute_NotAtEachAttempt()
    {
        Assert.True(_outage.Failed(Silo, StatusCode.Unavailable, "Error connecting to subchannel."));

        // 59 s of attempts every 2 s: folded into the summary, which is not due yet.
        for (var i = 0; i < 29; i++)
        {
            _time.Advance(Attempt);
            Assert.False(_outage.Failed(Silo, StatusCode.Unavailable, "Error connecting to subchannel."));
        }

        Assert.Empty(_logs.Messages);

        // The first attempt a minute after the first failure: one summary with the count and the last failure.
        _time.Advance(Attempt);
        Assert.False(_outage.Failed(Silo, StatusCode.Unavailable, "Error starting gRPC call."));
        var summary = Assert.Single(_logs.Messages);
        Assert.Equal($"Node outage-node: the scheduler is still unreachable after 1m 00s: 31 failed attempts, last through {Silo}: Unavailable Error starting gRPC call.", summary);

        // The next minute: one more, counted from that summary; over the two minutes, 2 lines instead of 61.
        for (var i = 0; i < 30; i++)
        {
            _time.Advance(Attempt);
            _outage.Failed(Silo, StatusCode.Unavailable, "Error connecting to subchannel.");
        }

        Assert.Equal(2, _logs.Messages.Count);
        Assert.Contains("still unreachable after 2m 00s: 61 failed attempts", _logs.Messages.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public void AnAnswer_EndsTheOutage_WithOneLineSayingHowLongItLastedAndHowManyAttemptsFailed()
    {
        // Registered, then cut off.
        _outage.Answered(Silo);
        FailedAttempts(7);
        _time.Advance(TimeSpan.FromMilliseconds(500));
        _outage.Answered(Silo);

        var recovered = Assert.Single(_logs.Messages);
        Assert.Equal($"Node outage-node: the scheduler is reachable again through {Silo}, after 0m 12s unreachable and 7 failed attempts", recovered);

        // Answers outside an outage say nothing; the next failure starts a new outage, logged in full again.
        _outage.Answered(Silo);
        Assert.Single(_logs.Messages);
        Assert.True(_outage.Failed(Silo, StatusCode.Unavailable, "Error connecting to subchannel."));
    }

    [Fact]
    public void FailuresBeforeTheSchedulersFirstAnswer_EndInALineSayingItIsTheFirst_NotThatItIsReachableAgain()
    {
        // The worker starts before its silo (a fleet brought up at once): its registration tries fail for 9 s. It was
        // never connected, and the line said "the scheduler is reachable again".
        FailedAttempts(5);
        _time.Advance(TimeSpan.FromSeconds(1));
        _outage.Answered(Silo);
        var first = Assert.Single(_logs.Messages);
        Assert.Equal($"Node outage-node: the scheduler answered through {Silo} for the first time, after 5 failed attempts over 0m 09s while it was starting or unreachable", first);

        // A later outage is one of a node that was connected: "again".
        FailedAttempts(1);
        _time.Advance(Attempt);
        _outage.Answered(Silo);
        Assert.Equal(2, _logs.Messages.Count);
        Assert.Equal($"Node outage-node: the scheduler is reachable again through {Silo}, after 0m 02s unreachable and 1 failed attempts", _logs.Messages.Last());
    }

    [Fact]
    public void AFailureWithAnotherStatus_IsLoggedInFull_NotFoldedIntoTheSummary()
    {
        Assert.True(_outage.Failed(Silo, StatusCode.Unavailable, "Error connecting to subchannel."));
        _time.Advance(Attempt);

        // A silo that freezes instead of refusing: a new kind of failure within the outage, logged once in full.
        Assert.True(_outage.Failed("http://10.0.0.2:5000", StatusCode.DeadlineExceeded, ""));
        _time.Advance(Attempt);
        Assert.False(_outage.Failed("http://10.0.0.2:5000", StatusCode.DeadlineExceeded, ""));
        Assert.False(_outage.Failed(Silo, StatusCode.Unavailable, "Error connecting to subchannel."));
    }

    // Attempts failing for a silo that is down, one every Attempt (from the first, at the current time).
    private void FailedAttempts(int count)
    {
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                _time.Advance(Attempt);
            }

            _outage.Failed(Silo, StatusCode.Unavailable, "Error connecting to subchannel.");
        }
    }
}
