// The compression job manager with a gated job function (job_test_util.h) and a real registry:
// life cycle, cancellation, idempotent request ids, persistence and crash recovery.
#include "engine/jobs/job_manager.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "engine/common/file.h"
#include "engine/common/owned_directory.h"
#include "engine/jobs/job_spec.h"
#include "engine/jobs/job_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/jobs/job_test_util.h"
#include "tests/engine/test_model.h"

namespace ghost::jobs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSample[] = "calibration text bundled with the model";

// The file's contents, or "" when it cannot be read.
std::string Contents(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  return text.ok() ? *text : "";
}

class JobManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::canonical(ghost::testing::MakeTempDir("jobs_root")).string();
    registry_dir_ = ghost::testing::MakeTempDir("jobs_registry");
    for (const char* name : {"source", "no-sample"}) {
      fs::create_directory(root_ + "/" + name);
      fs::copy_file(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny/config.json",
                    root_ + "/" + name + "/config.json");
    }
    ghost::testing::WriteFile(root_ + "/source/validation-sample.txt", kSample);
    OpenRegistry();
    for (const char* name : {"source", "no-sample"}) {
      ASSERT_TRUE(registry_->Import(name, name, ModelOrigin::kImported).ok());
    }
  }

  void TearDown() override {
    manager_.reset();
    registry_.reset();
  }

  void OpenRegistry() {
    RegistryOptions options;
    options.model_roots = {root_};
    options.registry_dir = registry_dir_;
    auto registry = ModelRegistry::Create(options);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
  }

  void StartManager(int max_queued = 16) {
    JobManagerOptions options;
    options.registry = registry_.get();
    options.registry_dir = registry_dir_;
    options.output_root = root_;
    options.max_queued = max_queued;
    options.compress = compressor_.Function();
    auto manager = CompressJobManager::Create(options);
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = *std::move(manager);
  }

  // Stops the manager and the registry and opens both again on the same directories.
  void Restart() {
    manager_.reset();
    registry_.reset();
    OpenRegistry();
    StartManager();
  }

  static CompressJobRequest Request(const std::string& output, const std::string& request_id = "") {
    CompressJobRequest request;
    request.request_id = request_id;
    request.model = "source";
    request.output_model = output;
    request.scheme = "ternary";
    request.block_size = 64;
    return request;
  }

  CompressJob Submit(const CompressJobRequest& request) {
    absl::StatusOr<CompressJob> job = manager_->Submit(request);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *job : CompressJob{};
  }

  CompressJob Wait(const std::string& id) {
    absl::StatusOr<CompressJob> job = WaitForJob(*manager_, id, absl::Now() + absl::Seconds(60));
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *job : CompressJob{};
  }

  // Entries of the root named after the output `name`: its directory and partial directories.
  std::vector<std::string> EntriesFor(const std::string& name) const {
    std::vector<std::string> found;
    for (const fs::directory_entry& entry : fs::directory_iterator(root_)) {
      const std::string file = entry.path().filename().string();
      if (file == name || absl::StartsWith(file, name + ".")) found.push_back(file);
    }
    return found;
  }

  // Nothing of the output is left: no directory, no partial directory, no registry entry.
  void ExpectNoOutput(const std::string& name) {
    EXPECT_THAT(EntriesFor(name), ::testing::IsEmpty());
    EXPECT_TRUE(absl::IsNotFound(registry_->Get(name).status()));
  }

  int Count(JobState state) const { return manager_->CountByState()[static_cast<size_t>(state)]; }

  std::string root_;
  std::string registry_dir_;
  ghost::testing::GatedCompressor compressor_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<CompressJobManager> manager_;
};

TEST_F(JobManagerTest, RunsToSuccessAndRegistersTheModel) {
  StartManager();
  const CompressJob queued = Submit(Request("out"));
  EXPECT_EQ(queued.request.output_model, "out");
  compressor_.AwaitStarted(1);
  absl::StatusOr<CompressJob> running = manager_->Get(queued.id);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state, JobState::kRunning);
  EXPECT_EQ(running->progress.phase, "profiling");
  EXPECT_EQ(Count(JobState::kRunning), 1);
  // The bundled sample stands in for an empty calibration text.
  EXPECT_EQ(compressor_.last_calibration_text(), kSample);

  compressor_.Open();
  const CompressJob done = Wait(queued.id);
  EXPECT_EQ(done.state, JobState::kSucceeded);
  EXPECT_EQ(done.progress.phase, "done");
  EXPECT_EQ(done.progress.percent, 100);
  EXPECT_TRUE(done.error.ok());
  EXPECT_EQ(done.report.bits_per_weight, 2.25);
  ASSERT_EQ(done.report.tensors.size(), 1u);
  EXPECT_GE(done.ElapsedSeconds(absl::Now()), 0);
  EXPECT_EQ(Count(JobState::kSucceeded), 1);
  EXPECT_EQ(Count(JobState::kRunning), 0);

  absl::StatusOr<ModelInfo> model = registry_->Get("out");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->created_by_server);
  EXPECT_EQ(model->path, "out");
  EXPECT_TRUE(fs::exists(root_ + "/out/quality_report.json"));
  EXPECT_TRUE(IsOwnedBy(root_ + "/out", queued.id));
  EXPECT_THAT(EntriesFor("out"), ::testing::ElementsAre("out"));
}

TEST_F(JobManagerTest, CancelRunningJobLeavesNoModel) {
  StartManager();
  const CompressJob job = Submit(Request("out"));
  compressor_.AwaitStarted(1);
  ASSERT_TRUE(IsOwnedBy(compress::PartialOutputDir(root_ + "/out", job.id), job.id));
  absl::StatusOr<CompressJob> cancelled = manager_->Cancel(job.id);
  ASSERT_TRUE(cancelled.ok());
  const CompressJob done = Wait(job.id);
  EXPECT_EQ(done.state, JobState::kCancelled);
  EXPECT_EQ(done.error.code(), absl::StatusCode::kCancelled);
  ExpectNoOutput("out");
}

TEST_F(JobManagerTest, CancellingAFinishedJobIsAFailedPrecondition) {
  StartManager();
  const CompressJob cancelled = Submit(Request("cancelled"));
  compressor_.AwaitStarted(1);
  const CompressJob succeeded = Submit(Request("succeeded"));
  ASSERT_TRUE(manager_->Cancel(cancelled.id).ok());
  compressor_.Open();
  ASSERT_EQ(Wait(cancelled.id).state, JobState::kCancelled);
  ASSERT_EQ(Wait(succeeded.id).state, JobState::kSucceeded);
  // AIP-151: there is nothing left to cancel, and the job stays as it ended.
  for (const CompressJob& job : {cancelled, succeeded}) {
    const absl::Status refused = manager_->Cancel(job.id).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
    EXPECT_THAT(refused.message(), HasSubstr("operations/" + job.id));
  }
  EXPECT_EQ(manager_->Get(cancelled.id)->state, JobState::kCancelled);
  EXPECT_EQ(manager_->Get(succeeded.id)->state, JobState::kSucceeded);
  EXPECT_TRUE(registry_->Get("succeeded").ok());
}

TEST_F(JobManagerTest, CancelQueuedJobNeverRunsIt) {
  StartManager();
  const CompressJob first = Submit(Request("first"));
  compressor_.AwaitStarted(1);
  const CompressJob second = Submit(Request("second"));
  EXPECT_EQ(manager_->Get(second.id)->state, JobState::kQueued);
  EXPECT_EQ(Count(JobState::kQueued), 1);
  absl::StatusOr<CompressJob> cancelled = manager_->Cancel(second.id);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state, JobState::kCancelled);
  compressor_.Open();
  EXPECT_EQ(Wait(first.id).state, JobState::kSucceeded);
  EXPECT_EQ(compressor_.started(), 1);
  ExpectNoOutput("second");
}

TEST_F(JobManagerTest, SameRequestIdIsTheSameJobAcrossRestarts) {
  StartManager();
  const CompressJob job = Submit(Request("out", "req-1"));
  const CompressJob again = Submit(Request("out", "req-1"));
  EXPECT_EQ(again.id, job.id);
  // The same id with other fields is refused, naming the operation it belongs to.
  CompressJobRequest other = Request("out", "req-1");
  other.block_size = 32;
  absl::StatusOr<CompressJob> refused = manager_->Submit(other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("operations/" + job.id));

  compressor_.Open();
  EXPECT_EQ(Wait(job.id).state, JobState::kSucceeded);
  Restart();
  // After the restart the retry still answers with the job, though its output now exists.
  absl::StatusOr<CompressJob> retried = manager_->Submit(Request("out", "req-1"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->id, job.id);
  EXPECT_EQ(retried->state, JobState::kSucceeded);
  EXPECT_EQ(compressor_.started(), 1);
}

TEST_F(JobManagerTest, FinishedJobsSurviveARestart) {
  StartManager();
  const CompressJob job = Submit(Request("out"));
  compressor_.Open();
  const CompressJob done = Wait(job.id);
  Restart();
  absl::StatusOr<CompressJob> restored = manager_->Get(job.id);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->state, JobState::kSucceeded);
  EXPECT_EQ(restored->sequence, done.sequence);
  EXPECT_EQ(restored->request.output_model, "out");
  EXPECT_EQ(restored->request.block_size, 64);
  EXPECT_EQ(restored->report.compression_ratio, done.report.compression_ratio);
  ASSERT_EQ(restored->report.tensors.size(), 1u);
  EXPECT_EQ(restored->report.tensors[0].tensor, done.report.tensors[0].tensor);
  EXPECT_EQ(restored->report.tensors[0].cosine, done.report.tensors[0].cosine);
  EXPECT_EQ(absl::ToUnixMillis(restored->finished), absl::ToUnixMillis(done.finished));
  EXPECT_EQ(Count(JobState::kSucceeded), 1);
  // New jobs are listed after the restored ones.
  const CompressJob next = Submit(Request("out2"));
  EXPECT_GT(next.sequence, done.sequence);
  const std::vector<CompressJob> listed = manager_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, job.id);
  EXPECT_EQ(listed[1].id, next.id);
}

// What a crash leaves on disk, for each place a job can die, written as the manager writes it.
TEST_F(JobManagerTest, RestartFailsInterruptedJobsAndRemovesTheirOutput) {
  StartManager();
  std::vector<CompressJob> jobs;
  for (const char* output : {"partial-only", "renamed", "registered", "queued"}) {
    jobs.push_back(Submit(Request(output, std::string("req-") + output)));
  }
  compressor_.AwaitStarted(1);
  manager_.reset();  // a clean shutdown would fail them itself; the files are rewritten below
  absl::StatusOr<JobStore> store = JobStore::Open(registry_dir_);
  ASSERT_TRUE(store.ok());
  for (CompressJob& job : jobs) {
    job.state = job.request.output_model == "queued" ? JobState::kQueued : JobState::kRunning;
    job.error = absl::OkStatus();
    job.finished = absl::InfinitePast();
    ASSERT_TRUE(store->Write(job).ok());
  }
  // Each directory carries its job's ownership marker, as the job made it (a rename moves the
  // partial directory's marker into the output directory).
  ASSERT_TRUE(CreateOwnedDirectory(compress::PartialOutputDir(root_ + "/partial-only", jobs[0].id),
                                   jobs[0].id)
                  .ok());
  ASSERT_TRUE(CreateOwnedDirectory(root_ + "/renamed", jobs[1].id).ok());
  ASSERT_TRUE(CreateOwnedDirectory(root_ + "/registered", jobs[2].id).ok());
  fs::copy_file(root_ + "/source/config.json", root_ + "/registered/config.json");
  ASSERT_TRUE(registry_->Import("registered", "registered", ModelOrigin::kCreatedByServer).ok());

  Restart();
  for (const CompressJob& job : jobs) {
    absl::StatusOr<CompressJob> recovered = manager_->Get(job.id);
    ASSERT_TRUE(recovered.ok());
    EXPECT_EQ(recovered->state, JobState::kFailed) << job.request.output_model;
    EXPECT_EQ(recovered->error.message(), kInterruptedReason);
    ExpectNoOutput(job.request.output_model);
  }
  EXPECT_EQ(Count(JobState::kFailed), 4);
  // The recorded failure is durable, and the same request can be made again under a new id.
  Restart();
  EXPECT_EQ(manager_->Get(jobs[1].id)->state, JobState::kFailed);
  const CompressJob again = Submit(Request("renamed"));
  EXPECT_NE(again.id, jobs[1].id);
  compressor_.Open();
  EXPECT_EQ(Wait(again.id).state, JobState::kSucceeded);
}

// Issue 16: recovery deleted a directory the job never wrote. One job runs, a second waits to
// write "copied", a user copies a model directory to <root>/copied, the server dies. Recovery
// removes only directories that carry the interrupted job's own marker.
TEST_F(JobManagerTest, RecoveryRemovesOnlyWhatTheJobItselfWrote) {
  StartManager();
  const CompressJob running = Submit(Request("running"));
  compressor_.AwaitStarted(1);
  const CompressJob queued = Submit(Request("copied"));
  fs::copy(root_ + "/source", root_ + "/copied", fs::copy_options::recursive);
  // Another server sharing the root is writing "copied" too, in a partial directory of its own.
  const std::string foreign = "0123456789abcdef";
  const std::string foreign_partial = compress::PartialOutputDir(root_ + "/copied", foreign);
  ASSERT_TRUE(CreateOwnedDirectory(foreign_partial, foreign).ok());
  manager_.reset();  // then the files say what a SIGKILL leaves: one running, one queued
  absl::StatusOr<JobStore> store = JobStore::Open(registry_dir_);
  ASSERT_TRUE(store.ok());
  for (CompressJob job : {running, queued}) {
    job.state = job.id == running.id ? JobState::kRunning : JobState::kQueued;
    ASSERT_TRUE(store->Write(job).ok());
  }
  // The running job died between creating its partial directory and writing the marker.
  const std::string running_partial = compress::PartialOutputDir(root_ + "/running", running.id);
  fs::create_directory(running_partial);

  Restart();
  for (const CompressJob& job : {running, queued}) {
    EXPECT_EQ(manager_->Get(job.id)->state, JobState::kFailed);
    EXPECT_EQ(manager_->Get(job.id)->error.message(), kInterruptedReason);
  }
  EXPECT_EQ(Contents(root_ + "/copied/validation-sample.txt"), kSample);
  EXPECT_TRUE(fs::exists(root_ + "/copied/config.json"));
  EXPECT_TRUE(IsOwnedBy(foreign_partial, foreign));
  EXPECT_FALSE(fs::exists(running_partial));  // empty: it held nothing
  ExpectNoOutput("running");
}

// Messages about a taken output name the model and the job, not internal directory names, and
// a job's errors name files relative to the model root.
TEST_F(JobManagerTest, MessagesNameModelsAndJobsNotServerPaths) {
  StartManager();
  const CompressJob job = Submit(Request("out"));
  compressor_.AwaitStarted(1);
  const absl::Status taken = manager_->Submit(Request("out")).status();
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(taken.message(),
              HasSubstr("\"out\" is being written by compression job operations/" + job.id));
  EXPECT_THAT(taken.message(), Not(HasSubstr(".partial")));

  // The output name is taken behind the job's back: its claim fails, naming the model root's
  // entry without the root.
  fs::create_directory(root_ + "/out");
  ghost::testing::WriteFile(root_ + "/out/notes.txt", "mine");
  compressor_.Open();
  const CompressJob failed = Wait(job.id);
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_EQ(failed.error.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(failed.error.message(), HasSubstr("out already exists"));
  EXPECT_THAT(failed.error.message(), Not(HasSubstr(root_)));
  EXPECT_EQ(Contents(root_ + "/out/notes.txt"), "mine");
  EXPECT_THAT(EntriesFor("out"), ::testing::ElementsAre("out"));
}

TEST(WithoutServerPathsTest, CutsEveryRootLongestFirst) {
  const absl::Status status = WithoutServerPaths(
      absl::NotFoundError("/srv/m/a/config.json and /srv/m2/b/x.json; root /srv/m"),
      {"/srv/m", "/srv/m2"});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "a/config.json and b/x.json; root the model root");
}

TEST_F(JobManagerTest, ShutdownFailsUnfinishedJobsAsInterrupted) {
  StartManager();
  const CompressJob running = Submit(Request("running"));
  compressor_.AwaitStarted(1);
  const CompressJob queued = Submit(Request("queued"));
  manager_->Shutdown();
  for (const CompressJob& job : {running, queued}) {
    absl::StatusOr<CompressJob> done = manager_->Get(job.id);
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->state, JobState::kFailed);
    EXPECT_EQ(done->error.message(), kInterruptedReason);
    ExpectNoOutput(job.request.output_model);
  }
  EXPECT_EQ(manager_->Submit(Request("late")).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(JobManagerTest, RejectsBadRequestsAtOnce) {
  StartManager();
  CompressJobRequest request = Request("out");
  request.model = "missing";
  EXPECT_EQ(manager_->Submit(request).status().code(), absl::StatusCode::kNotFound);

  request = Request("out");
  request.scheme = "int3";
  absl::Status status = manager_->Submit(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("ternary"));  // lists the accepted schemes

  request = Request("out");
  request.block_size = 48;
  EXPECT_EQ(manager_->Submit(request).status().code(), absl::StatusCode::kInvalidArgument);

  request = Request("bad/name");
  EXPECT_EQ(manager_->Submit(request).status().code(), absl::StatusCode::kInvalidArgument);

  // No calibration text and none bundled with the model.
  request = Request("out");
  request.model = "no-sample";
  status = manager_->Submit(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("validation-sample.txt"));
  request.calibration_text = "some text of our own";
  const CompressJob own_text = Submit(request);
  compressor_.AwaitStarted(1);
  EXPECT_EQ(compressor_.last_calibration_text(), "some text of our own");

  // Taken outputs: a registered model, a directory in the root, another job's output.
  EXPECT_EQ(manager_->Submit(Request("source")).status().code(), absl::StatusCode::kAlreadyExists);
  fs::create_directory(root_ + "/stray");
  EXPECT_EQ(manager_->Submit(Request("stray")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(manager_->Submit(Request("out")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(compressor_.started(), 1);
  compressor_.Open();
  EXPECT_EQ(Wait(own_text.id).state, JobState::kSucceeded);
}

TEST_F(JobManagerTest, QueueIsBounded) {
  StartManager(/*max_queued=*/1);
  const CompressJob running = Submit(Request("a"));
  compressor_.AwaitStarted(1);
  const CompressJob queued = Submit(Request("b"));
  EXPECT_EQ(manager_->Submit(Request("c")).status().code(), absl::StatusCode::kResourceExhausted);
  compressor_.Open();
  EXPECT_EQ(Wait(running.id).state, JobState::kSucceeded);
  EXPECT_EQ(Wait(queued.id).state, JobState::kSucceeded);
}

TEST_F(JobManagerTest, DeleteOnlyFinishedJobs) {
  StartManager();
  const CompressJob job = Submit(Request("out", "req-1"));
  compressor_.AwaitStarted(1);
  EXPECT_EQ(manager_->Delete(job.id).code(), absl::StatusCode::kFailedPrecondition);
  compressor_.Open();
  Wait(job.id);
  EXPECT_TRUE(manager_->Delete(job.id).ok());
  EXPECT_EQ(manager_->Get(job.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_->Delete("0123").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(registry_->Get("out").ok());  // the model stays
  Restart();
  EXPECT_TRUE(manager_->List().empty());
}

TEST_F(JobManagerTest, WaitEndsAtItsDeadlineWithTheJobAsItIs) {
  StartManager();
  const CompressJob job = Submit(Request("out"));
  compressor_.AwaitStarted(1);
  absl::StatusOr<CompressJob> waited =
      WaitForJob(*manager_, job.id, absl::Now() + absl::Milliseconds(50));
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(waited->state, JobState::kRunning);
  EXPECT_EQ(WaitForJob(*manager_, "nope", absl::Now()).status().code(),
            absl::StatusCode::kNotFound);
  compressor_.Open();
  EXPECT_EQ(Wait(job.id).state, JobState::kSucceeded);
}

TEST(JobStoreTest, SkipsFilesThatDoNotParse) {
  const std::string dir = ghost::testing::MakeTempDir("jobs_store");
  absl::StatusOr<JobStore> store = JobStore::Open(dir);
  ASSERT_TRUE(store.ok());
  CompressJob job;
  job.id = "00000000000000aa";
  job.request.model = "m";
  job.state = JobState::kFailed;
  job.error = absl::AbortedError(kInterruptedReason);
  ASSERT_TRUE(store->Write(job).ok());
  ghost::testing::WriteFile(dir + "/operations/00000000000000bb.json", "{\"format\": 1");
  const std::vector<CompressJob> jobs = store->ReadAll();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, job.id);
  EXPECT_EQ(jobs[0].error, job.error);
  EXPECT_EQ(jobs[0].created, absl::InfinitePast());
}

}  // namespace
}  // namespace ghost::jobs
