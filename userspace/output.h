/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* JSON shapes shared by the listings and the collector's flow log. */
#ifndef FT_OUTPUT_H
#define FT_OUTPUT_H

#include <json-c/json.h>
#include "flowtap.h"
#include "state.h"

/* The object `flowtap flows --json` prints for one flow. */
json_object *ft_flow_json(const struct ft_flow *f);
/* The object `flowtap http --json` prints for one sample. */
json_object *ft_http_json(const struct ft_http_event *e);

#endif
