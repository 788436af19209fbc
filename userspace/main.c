// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "cli.h"

int main(int argc, char **argv)
{
	return ft_main(argc, argv);
}
