#include "bench/load_client.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>

#include "proto/status_name.h"

namespace ghost::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Shared bookkeeping: how many calls are left to start and to finish.
class LoadState {
 public:
  LoadState(const std::shared_ptr<grpc::Channel>& channel, const LoadOptions& options)
      : stub_(ghost::v1::Inference::NewStub(channel)), options_(options) {
    report_.calls.resize(options.total_requests);
    std::mt19937 rng(options.seed);
    std::uniform_real_distribution<double> uniform(0, 1);
    for (CallResult& call : report_.calls) {
      const double u = uniform(rng);
      if (u < options.cancel_fraction) {
        call.kind = CallKind::kCancelled;
      } else if (u < options.cancel_fraction + options.deadline_fraction) {
        call.kind = CallKind::kShortDeadline;
      }
    }
  }

  void StartNext();
  void OnCallDone() {
    std::unique_lock<std::mutex> lock(mu_);
    ++finished_;
    if (finished_ == options_.total_requests) done_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return finished_ == options_.total_requests; });
  }

  ghost::v1::Inference::Stub* stub() { return stub_.get(); }
  const LoadOptions& options() const { return options_; }
  LoadReport& report() { return report_; }

 private:
  std::unique_ptr<ghost::v1::Inference::Stub> stub_;
  const LoadOptions& options_;
  LoadReport report_;
  std::mutex mu_;
  std::condition_variable done_;
  int started_ = 0;
  int finished_ = 0;
};

// One streaming call. Deletes itself when gRPC is done with it, after starting the next call.
class GenerateCall final : public grpc::ClientReadReactor<ghost::v1::GenerateResponse> {
 public:
  GenerateCall(LoadState& state, int index) : state_(state), result_(state.report().calls[index]) {
    const LoadOptions& options = state.options();
    request_ = options.request;
    request_.set_request_id(options.request.request_id() + "-" + std::to_string(index));
    if (!options.token.empty()) context_.AddMetadata("authorization", "Bearer " + options.token);
    const auto deadline = result_.kind == CallKind::kShortDeadline
                              ? std::chrono::milliseconds(options.short_deadline_ms)
                              : std::chrono::milliseconds(options.deadline_s * 1000);
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
    start_ = last_ = Clock::now();
    state.stub()->async()->Generate(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status
    const auto now = Clock::now();
    if (response_.token_ids_size() > 0) {
      if (result_.tokens == 0) {
        result_.ttft_s = Seconds(start_, now);
      } else {
        result_.inter_token_s.push_back(Seconds(last_, now));
      }
      last_ = now;
      result_.tokens += response_.token_ids_size();
    }
    if (!response_.finish_reason().empty()) {
      result_.finish_reason = response_.finish_reason();
      result_.completion_tokens = response_.usage().completion_tokens();
    }
    if (result_.kind == CallKind::kCancelled &&
        result_.tokens >= state_.options().cancel_after_tokens) {
      context_.TryCancel();
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    result_.code = status.error_code();
    result_.message = status.error_message();
    result_.e2e_s = Seconds(start_, Clock::now());
    LoadState& state = state_;
    delete this;
    state.StartNext();
    state.OnCallDone();
  }

 private:
  LoadState& state_;
  CallResult& result_;
  grpc::ClientContext context_;
  ghost::v1::GenerateRequest request_;
  ghost::v1::GenerateResponse response_;
  Clock::time_point start_, last_;
};

void LoadState::StartNext() {
  int index;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (started_ == options_.total_requests) return;
    index = started_++;
  }
  new GenerateCall(*this, index);
}

}  // namespace

LoadReport RunLoad(const std::shared_ptr<grpc::Channel>& channel, const LoadOptions& options) {
  LoadState state(channel, options);
  const auto start = Clock::now();
  for (int i = 0; i < std::min(options.concurrency, options.total_requests); ++i) {
    state.StartNext();
  }
  state.Wait();
  LoadReport report = std::move(state.report());
  report.wall_s = Seconds(start, Clock::now());
  for (const CallResult& call : report.calls) {
    report.total_tokens += call.tokens;
    ++report.codes[StatusCodeName(call.code)];
  }
  report.tokens_per_s = report.wall_s > 0 ? report.total_tokens / report.wall_s : 0;
  return report;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (rank - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

}  // namespace ghost::bench
