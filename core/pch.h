// Precompiled for every target that includes LibTorch (about 20 s per translation unit
// without it on two cores).
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>
