// Asynchronous tool handlers: Poll starts a handler on the polling thread; its task may complete
// on any thread, and the Poll that sees it complete submits the output and raises ToolCalled, so
// events stay on the polling thread. A handler that runs past ToolTimeout is answered with an
// error output, and whatever it produces later is dropped.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace RealtimeVoice
{
    public sealed partial class RealtimeSession
    {
        /// <summary>The default of <see cref="ToolTimeout"/>: 30 seconds.</summary>
        public static readonly TimeSpan DefaultToolTimeout = TimeSpan.FromSeconds(30);

        private sealed class RunningTool
        {
            public RealtimeToolCall Call;
            public Task<string> Task;
            public long StartedTicks; // Stopwatch ticks
        }

        private readonly List<RunningTool> _runningTools = new List<RunningTool>();
        private TimeSpan _toolTimeout = DefaultToolTimeout;

        /// <summary>
        /// How long an asynchronous tool handler may run before the model is answered with
        /// {"error": "tool 'name' did not answer within N s"} (default <see cref="DefaultToolTimeout"/>,
        /// 30 s; <see cref="Timeout.InfiniteTimeSpan"/> waits forever). Measured from the Poll that
        /// started the handler to the Poll that sees it finish; a change applies to running handlers too.
        /// </summary>
        /// <exception cref="ArgumentOutOfRangeException">Zero or negative (other than infinite).</exception>
        public TimeSpan ToolTimeout
        {
            get { return _toolTimeout; }
            set
            {
                if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
                    throw new ArgumentOutOfRangeException("value", "the tool timeout must be positive (or Timeout.InfiniteTimeSpan)");
                _toolTimeout = value;
            }
        }

        /// <summary>Asynchronous tool calls started and not answered yet.</summary>
        public int RunningToolCalls { get { return _runningTools.Count; } }

        /// <summary>
        /// Registers an asynchronous tool: the handler maps the arguments JSON to a task of the output
        /// string. Poll starts it on the polling thread; the task may complete on any thread, and the
        /// next Poll submits its output (an exception or a cancellation becomes {"error": "..."}; so does
        /// running longer than <see cref="ToolTimeout"/>). A lambda that only throws matches both
        /// overloads: cast it to the delegate type you mean.
        /// </summary>
        public void RegisterTool(string name, string description, string parametersJsonSchema, Func<string, Task<string>> handler)
        {
            _tools.Register(name, description, parametersJsonSchema, handler);
        }

        private void TrackToolTask(RealtimeToolCall call, Task<string> task)
        {
            // A task answered by the timeout (or left behind by Dispose) is never read again: observe
            // its exception so it does not surface as an unobserved task exception.
            task.ContinueWith(t => { var ignored = t.Exception; }, CancellationToken.None,
                              TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            _runningTools.Add(new RunningTool { Call = call, Task = task, StartedTicks = Stopwatch.GetTimestamp() });
        }

        /// <summary>Answers the running tool calls that completed or timed out; at most <paramref name="maxItems"/>.</summary>
        private int FinishToolTasks(int maxItems)
        {
            int answered = 0;
            for (int i = 0; i < _runningTools.Count && answered < maxItems;)
            {
                if (Handle == 0) break; // a handler or subscriber disposed the session
                var running = _runningTools[i];
                string output;
                Exception error;
                if (running.Task.IsCompleted)
                {
                    output = ToolRegistry.Complete(running.Task, out error);
                }
                else if (TimedOut(running.StartedTicks))
                {
                    running.Call.TimedOut = true;
                    error = new TimeoutException("tool '" + running.Call.Name + "' did not answer within " + Seconds(_toolTimeout) + " s");
                    output = ToolRegistry.ErrorOutput(error.Message);
                }
                else
                {
                    i++;
                    continue;
                }
                _runningTools.RemoveAt(i);
                running.Call.Exception = error;
                answered++;
                AnswerToolCall(running.Call, output);
            }
            return answered;
        }

        private bool TimedOut(long startedTicks)
        {
            if (_toolTimeout == Timeout.InfiniteTimeSpan) return false;
            double elapsedSeconds = (Stopwatch.GetTimestamp() - startedTicks) / (double)Stopwatch.Frequency;
            return elapsedSeconds >= _toolTimeout.TotalSeconds;
        }

        private static string Seconds(TimeSpan t)
        {
            return t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
