// ghostbench serve: drives concurrent streaming Generate calls against a server (one at
// --address, or an in-process one on ghost-tiny) and reports aggregate tokens/s, TTFT and
// inter-token latency percentiles and errors by code, for each concurrency level.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "bench/curve.h"
#include "bench/load_client.h"
#include "bench/subcommands.h"
#include "nlohmann/json.hpp"
#include "server/server.h"

namespace ghost::bench {
namespace {

struct ServeOptions {
  std::string address;  // empty: start an in-process server
  std::string model_root = "models";
  std::string model = "ghost-tiny";
  std::vector<int> curve = {1, 2, 4, 8, 16, 32};
  int requests_per_stream = 2;
  int max_new_tokens = 64;
  std::string prompt = "The President said";
  double cancel_fraction = 0;
  double deadline_fraction = 0;
  std::string token;
  bool json = false;
};

bool ParseOptions(int argc, char** argv, ServeOptions& options) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--address" && has_value) {
      options.address = argv[++i];
    } else if (arg == "--model_root" && has_value) {
      options.model_root = argv[++i];
    } else if (arg == "--model" && has_value) {
      options.model = argv[++i];
    } else if (arg == "--prompt" && has_value) {
      options.prompt = argv[++i];
    } else if (arg == "--token" && has_value) {
      options.token = argv[++i];
    } else if (arg == "--curve" && has_value) {
      if (!ParseCurve(argv[++i], options.curve)) return false;
    } else if (arg == "--requests_per_stream" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.requests_per_stream)) return false;
    } else if (arg == "--max_new_tokens" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.max_new_tokens)) return false;
    } else if (arg == "--cancel_fraction" && has_value) {
      if (!absl::SimpleAtod(argv[++i], &options.cancel_fraction)) return false;
    } else if (arg == "--deadline_fraction" && has_value) {
      if (!absl::SimpleAtod(argv[++i], &options.deadline_fraction)) return false;
    } else {
      return false;
    }
  }
  return !options.curve.empty() && options.requests_per_stream >= 1 && options.max_new_tokens >= 1;
}

nlohmann::json Summarize(int concurrency, const LoadReport& report, double single_stream_tps) {
  std::vector<double> ttft, itl;
  for (const CallResult& call : report.calls) {
    if (call.ttft_s >= 0) ttft.push_back(call.ttft_s);
    itl.insert(itl.end(), call.inter_token_s.begin(), call.inter_token_s.end());
  }
  return {{"concurrency", concurrency},
          {"requests", report.calls.size()},
          {"wall_s", report.wall_s},
          {"tokens", report.total_tokens},
          {"tokens_per_s", report.tokens_per_s},
          {"speedup_vs_1_stream",
           single_stream_tps > 0 ? report.tokens_per_s / single_stream_tps : 1.0},
          {"ttft_ms",
           {{"p50", 1e3 * Percentile(ttft, 50)},
            {"p90", 1e3 * Percentile(ttft, 90)},
            {"p99", 1e3 * Percentile(ttft, 99)}}},
          {"itl_ms",
           {{"p50", 1e3 * Percentile(itl, 50)},
            {"p90", 1e3 * Percentile(itl, 90)},
            {"p99", 1e3 * Percentile(itl, 99)}}},
          {"codes", report.codes}};
}

}  // namespace

int RunServe(int argc, char** argv) {
  ServeOptions options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: ghostbench serve [--address HOST:PORT | --model_root DIR --model NAME]\n"
                 "  [--curve 1,2,4,8,16,32] [--requests_per_stream N] [--max_new_tokens N]\n"
                 "  [--prompt TEXT] [--cancel_fraction F] [--deadline_fraction F] [--token T]"
                 " [--json]\n");
    return 2;
  }
  std::unique_ptr<server::GhostServer> local;
  std::string address = options.address;
  // The in-process server's registry lives in a temporary data directory, removed at the end.
  std::string data_dir;
  if (address.empty()) {
    data_dir = std::filesystem::temp_directory_path() / "ghostbench_serve_XXXXXX";
    if (mkdtemp(data_dir.data()) == nullptr) {
      std::fprintf(stderr, "ghostbench serve: cannot create %s\n", data_dir.c_str());
      return 1;
    }
    server::ServerOptions server_options;
    server_options.data_dir = data_dir;
    server_options.host = server_options.metrics_host = "127.0.0.1";
    server_options.port = server_options.metrics_port = 0;
    server_options.http_port = 0;  // the benchmark speaks gRPC
    server_options.model_roots = {options.model_root};
    server_options.default_model = options.model;
    server_options.max_queued_requests = 1024;
    auto started = server::GhostServer::Start(server_options);
    if (!started.ok() || !(*started)->WaitUntilReady()) {
      std::fprintf(stderr, "ghostbench serve: cannot start a server on %s/%s: %s\n",
                   options.model_root.c_str(), options.model.c_str(),
                   started.ok() ? "model failed to load" : started.status().ToString().c_str());
      return 1;
    }
    local = *std::move(started);
    address = "127.0.0.1:" + std::to_string(local->port());
  }
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());

  LoadOptions load;
  load.request.set_model(options.address.empty() ? options.model : "");
  load.request.set_text(options.prompt);
  load.request.set_request_id("bench");
  load.request.mutable_sampling()->set_temperature(0);
  load.request.mutable_stopping()->set_max_new_tokens(options.max_new_tokens);
  load.request.mutable_stopping()->set_ignore_eos(true);
  load.cancel_fraction = options.cancel_fraction;
  load.deadline_fraction = options.deadline_fraction;
  load.token = options.token;

  nlohmann::json levels = nlohmann::json::array();
  double single_stream_tps = 0;
  if (!options.json) {
    std::printf("%6s %8s %10s %8s %9s %9s %9s %9s  %s\n", "conc", "requests", "tokens/s", "speedup",
                "ttft p50", "ttft p99", "itl p50", "itl p99", "codes");
  }
  for (const int concurrency : options.curve) {
    load.concurrency = concurrency;
    load.total_requests = concurrency * options.requests_per_stream;
    const LoadReport report = RunLoad(channel, load);
    if (concurrency == 1) single_stream_tps = report.tokens_per_s;
    nlohmann::json level = Summarize(concurrency, report, single_stream_tps);
    if (!options.json) {
      std::string codes;
      for (const auto& [code, count] : report.codes) {
        codes += code + "=" + std::to_string(count) + " ";
      }
      std::printf("%6d %8d %10.1f %7.2fx %7.1fms %7.1fms %7.1fms %7.1fms  %s\n", concurrency,
                  load.total_requests, report.tokens_per_s,
                  level["speedup_vs_1_stream"].get<double>(), level["ttft_ms"]["p50"].get<double>(),
                  level["ttft_ms"]["p99"].get<double>(), level["itl_ms"]["p50"].get<double>(),
                  level["itl_ms"]["p99"].get<double>(), codes.c_str());
      std::fflush(stdout);
    }
    levels.push_back(std::move(level));
  }
  if (options.json) {
    nlohmann::json out = {{"address", options.address.empty() ? "in-process" : options.address},
                          {"model", options.model},
                          {"max_new_tokens", options.max_new_tokens},
                          {"levels", levels}};
    std::printf("%s\n", out.dump(2).c_str());
  }
  if (local != nullptr) local->Shutdown();
  if (!data_dir.empty()) std::filesystem::remove_all(data_dir);
  return 0;
}

}  // namespace ghost::bench
