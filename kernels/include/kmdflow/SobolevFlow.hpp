#pragma once
// The particle flow under its first name (ParticleFlow.hpp serves every kernel).

#include <kmdflow/ParticleFlow.hpp>
