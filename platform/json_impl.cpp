// Compiles Boost.JSON once for the whole program; every other file includes <boost/json.hpp>
// (or a narrower header) for the declarations only.
#include <boost/json/src.hpp>
