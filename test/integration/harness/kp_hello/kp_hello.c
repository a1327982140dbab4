// SPDX-License-Identifier: GPL-2.0
/*
 * kp_hello: the harness's smoke-test module.  Creates /proc/kp_hello, whose content
 * is the module parameter "greeting", and removes it on unload.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static char *greeting = "hello from kp_hello";
module_param(greeting, charp, 0444);
MODULE_PARM_DESC(greeting, "text shown by /proc/kp_hello");

static int kp_hello_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s\n", greeting);
	return 0;
}

static int __init kp_hello_init(void)
{
	if (!proc_create_single("kp_hello", 0444, NULL, kp_hello_show))
		return -ENOMEM;
	return 0;
}

static void __exit kp_hello_exit(void)
{
	remove_proc_entry("kp_hello", NULL);
}

module_init(kp_hello_init);
module_exit(kp_hello_exit);
MODULE_DESCRIPTION("kp VM harness smoke-test module");
MODULE_LICENSE("GPL");
