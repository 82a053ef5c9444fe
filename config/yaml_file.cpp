#include "config/yaml_file.hpp"

namespace kscprobe {

SourcePos yaml_position(const std::string& path, const YAML::Mark& mark) {
  return {path, mark.is_null() ? 0 : mark.line + 1, mark.is_null() ? 0 : mark.column + 1};
}

bool load_yaml_file(const std::string& path, std::string_view what, YAML::Node* root,
                    std::vector<ConfigError>* errors) {
  try {
    *root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    errors->push_back({{path, 0, 0}, "cannot read " + std::string(what)});
    return false;
  } catch (const YAML::Exception& e) {
    errors->push_back({yaml_position(path, e.mark), e.msg});
    return false;
  }
  return true;
}

}  // namespace kscprobe
