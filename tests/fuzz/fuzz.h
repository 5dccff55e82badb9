/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * The libFuzzer entry point every fuzz target defines. The same sources build as plain
 * programs with replay-main.c, which runs the corpus and the regression inputs as tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);
