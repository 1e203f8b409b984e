// ghostctl list: the models the server knows, one per line.
#include <cstdio>
#include <string>

#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "clients/ghostctl/table.h"
#include "ghost/v1/models.grpc.pb.h"

namespace ghost::ctl {

int RunList() {
  auto stub = ghost::v1::Models::NewStub(OpenChannel());
  ghost::v1::ListModelsResponse response;
  auto context = NewContext(10);
  const grpc::Status status = stub->ListModels(context.get(), {}, &response);
  if (!status.ok()) return ReportError("list", status);
  using Align = Table::Align;
  Table table({{"NAME"},
               {"STATE"},
               {"ARCHITECTURE"},
               {"PARAMS", Align::kRight},
               {"DTYPE"},
               {"CONTEXT", Align::kRight},
               {"TOKENIZER"}});
  for (const ghost::v1::Model& model : response.models()) {
    std::string tokenizer = model.tokenizer();
    if (!model.reason().empty()) tokenizer += "  reason: " + model.reason();
    table.AddRow({model.name(), ghost::v1::ModelState_Name(model.state()), model.architecture(),
                  std::to_string(model.parameters()), model.dtype(),
                  std::to_string(model.context_length()), tokenizer});
  }
  std::fputs(table.Render().c_str(), stdout);
  return 0;
}

}  // namespace ghost::ctl
