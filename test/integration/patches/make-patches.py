#!/usr/bin/env python3
"""Regenerates the e2e patch catalogue from edit specs against a pristine 6.1 tree
(KP_SRC, default build/linux). Run after a sublevel change breaks a patch's context."""
import json
import os
import pathlib
import subprocess
import tempfile
HERE = pathlib.Path(__file__).resolve().parent
SRC = pathlib.Path(os.environ.get("KP_SRC", HERE.parents[2] / "build/linux"))
OUT = HERE
SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="kp-mkpatches-"))

def mk(name, edits, test=None, expect=None, sub=""):
    """edits: list of (path, old, new). Produces NAME.patch (a/ b/ paths)."""
    diff = ""
    by_file = {}
    for path, old, new in edits:
        by_file.setdefault(path, []).append((old, new))
    for path, reps in by_file.items():
        orig = (SRC / path).read_text()
        text = orig
        for old, new in reps:
            assert text.count(old) == 1, (name, path, old)
            text = text.replace(old, new)
        a = SCRATCH / "a" / path; b = SCRATCH / "b" / path
        a.parent.mkdir(parents=True, exist_ok=True); b.parent.mkdir(parents=True, exist_ok=True)
        a.write_text(orig); b.write_text(text)
        d = subprocess.run(["diff", "-u", "--label", f"a/{path}", "--label", f"b/{path}", f"a/{path}", f"b/{path}"], cwd=SCRATCH, capture_output=True, text=True).stdout
        assert d, name
        diff += d
    out = OUT / sub
    (out / f"{name}.patch").write_text(diff)
    if test is not None:
        (out / f"{name}.test").write_text("#!/bin/sh\n# Passes only while the patch is in force.\n" + test.strip() + "\n")
    if expect is not None:
        (out / f"{name}.expect").write_text(json.dumps(expect, indent=2) + "\n")

# ---- good patches --------------------------------------------------------
mk("proc-cmdline-string", [("fs/proc/cmdline.c",
   "\tseq_puts(m, saved_command_line);\n\tseq_putc(m, '\\n');",
   "\tseq_puts(m, saved_command_line);\n\tseq_puts(m, \" kp_e2e_cmdline\");\n\tseq_putc(m, '\\n');")],
   "grep -q ' kp_e2e_cmdline$' /proc/cmdline")

mk("proc-meminfo-line", [("fs/proc/meminfo.c",
   "\tarch_report_meminfo(m);\n",
   "\tarch_report_meminfo(m);\n\tseq_puts(m, \"KpE2ePatched:          1 kB\\n\");\n")],
   "grep -q '^KpE2ePatched: ' /proc/meminfo")

mk("syscall-uname", [("kernel/sys.c",
   "SYSCALL_DEFINE1(newuname, struct new_utsname __user *, name)\n{\n\tstruct new_utsname tmp;\n\n\tdown_read(&uts_sem);\n\tmemcpy(&tmp, utsname(), sizeof(tmp));\n\tup_read(&uts_sem);\n\tif (copy_to_user(name, &tmp, sizeof(tmp)))",
   "SYSCALL_DEFINE1(newuname, struct new_utsname __user *, name)\n{\n\tstruct new_utsname tmp;\n\n\tdown_read(&uts_sem);\n\tmemcpy(&tmp, utsname(), sizeof(tmp));\n\tup_read(&uts_sem);\n\tstrscpy(tmp.machine, \"kp-e2e-machine\", sizeof(tmp.machine));\n\tif (copy_to_user(name, &tmp, sizeof(tmp)))")],
   "test \"$(uname -m)\" = kp-e2e-machine")

mk("syscall-sethostname-extable", [("kernel/sys.c",
   "\t\tu = utsname();\n\t\tmemcpy(u->nodename, tmp, len);",
   "\t\tu = utsname();\n\t\tif (len == 8 && !memcmp(tmp, \"kp-probe\", 8))\n\t\t\tmemcpy(tmp, \"kp-fixed\", 8);\n\t\tmemcpy(u->nodename, tmp, len);")],
   "hostname kp-probe\nh=$(hostname)\nhostname localhost\ntest \"$h\" = kp-fixed")

mk("syscall-umask", [("kernel/sys.c",
   "\tmask = xchg(&current->fs->umask, mask & S_IRWXUGO);",
   "\tif (mask == 0123)\n\t\tmask = 0321;\n\tmask = xchg(&current->fs->umask, mask & S_IRWXUGO);")],
   "umask 0123\ntest \"$(umask)\" = 0321")

mk("new-function", [("fs/proc/version.c",
   "static int version_proc_show(struct seq_file *m, void *v)\n{",
   "static noinline void kp_e2e_version_note(struct seq_file *m)\n{\n\tseq_puts(m, \"kp-e2e-new-function\\n\");\n}\n\nstatic int version_proc_show(struct seq_file *m, void *v)\n{"),
   ("fs/proc/version.c", "\t\tutsname()->version);\n\treturn 0;", "\t\tutsname()->version);\n\tkp_e2e_version_note(m);\n\treturn 0;")],
   "grep -q '^kp-e2e-new-function$' /proc/version")

mk("new-global", [("fs/proc/loadavg.c",
   "static int loadavg_proc_show(struct seq_file *m, void *v)\n{",
   "int kp_e2e_loadavg_reads;\n\nstatic int loadavg_proc_show(struct seq_file *m, void *v)\n{"),
   ("fs/proc/loadavg.c", "\tget_avenrun(avnrun, FIXED_1/200, 0);\n", "\tget_avenrun(avnrun, FIXED_1/200, 0);\n\tkp_e2e_loadavg_reads++;\n\tseq_printf(m, \"kp_reads=%d \", kp_e2e_loadavg_reads);\n")],
   "a=$(sed -n 's/^kp_reads=\\([0-9]*\\) .*/\\1/p' /proc/loadavg)\nb=$(sed -n 's/^kp_reads=\\([0-9]*\\) .*/\\1/p' /proc/loadavg)\ntest -n \"$a\" && test \"$b\" -eq $((a + 1))")

mk("special-static-once", [("fs/proc/uptime.c",
   "\tktime_get_boottime_ts64(&uptime);\n",
   "\tpr_info_once(\"kp-e2e-uptime-once\\n\");\n\tpr_info_ratelimited(\"kp-e2e-uptime-ratelimited\\n\");\n\tktime_get_boottime_ts64(&uptime);\n")],
   "dmesg -c >/dev/null\ncat /proc/uptime >/dev/null; cat /proc/uptime >/dev/null\ntest \"$(dmesg | grep -c kp-e2e-uptime-once)\" = 1")

mk("bug-table", [("fs/proc/softirqs.c",
   "\tint i, j;\n\n\tseq_puts(p, \"                    \");",
   "\tint i, j;\n\n\tBUG_ON(!p);\n\tseq_puts(p, \"kp-e2e-bug \");\n\tseq_puts(p, \"          \");")],
   "head -1 /proc/softirqs | grep -q '^kp-e2e-bug '")

mk("alternatives-cpuinfo", [("arch/x86/kernel/cpu/proc.c",
   "\tseq_puts(m, \"power management:\");",
   "\tif (static_cpu_has(X86_FEATURE_FPU))\n\t\tseq_puts(m, \"kp_alternatives\\t: fpu\\n\");\n\tseq_puts(m, \"power management:\");")],
   "grep -q '^kp_alternatives' /proc/cpuinfo")

mk("paravirt-irqsave", [("fs/proc/consoles.c",
   "static int show_console_dev(struct seq_file *m, void *v)\n{",
   "static int show_console_dev(struct seq_file *m, void *v)\n{\n\tunsigned long kp_flags;\n\n\tlocal_irq_save(kp_flags);\n\tseq_puts(m, \"kp-pv \");\n\tlocal_irq_restore(kp_flags);\n")],
   "grep -q '^kp-pv ' /proc/consoles")

mk("jump-label-stat", [("fs/proc/stat.c",
   "\tseq_put_decimal_ull(p, \"softirq \", (unsigned long long)sum_softirq);",
   "\tif (static_branch_unlikely(&init_on_free))\n\t\tseq_puts(p, \"kp_init_on_free 1\\n\");\n\telse\n\t\tseq_puts(p, \"kp_init_on_free 0\\n\");\n\tseq_put_decimal_ull(p, \"softirq \", (unsigned long long)sum_softirq);"),
   ("fs/proc/stat.c", "#include <linux/kernel_stat.h>\n", "#include <linux/kernel_stat.h>\n#include <linux/mm.h>\n")],
   "grep -q '^kp_init_on_free 0$' /proc/stat")

mk("header-inline-proc-task", [("fs/proc/internal.h",
   "static inline struct task_struct *get_proc_task(const struct inode *inode)\n{\n",
   "static inline struct task_struct *get_proc_task(const struct inode *inode)\n{\n\tpr_info_ratelimited(\"kp-e2e-header-inline\\n\");\n")],
   "dmesg -c >/dev/null\nls /proc/self/fd >/dev/null\ndmesg | grep -q kp-e2e-header-inline")

mk("module-fuse-param", [("fs/fuse/inode.c",
   "\trv = param_set_uint(val, kp);\n",
   "\trv = param_set_uint(val, kp);\n\tif (!rv && *(unsigned int *)kp->arg == 4242)\n\t\t*(unsigned int *)kp->arg = 4343;\n")],
   "echo 4242 > /sys/module/fuse/parameters/max_user_bgreq\nv=$(cat /sys/module/fuse/parameters/max_user_bgreq)\necho 0 > /sys/module/fuse/parameters/max_user_bgreq\ntest \"$v\" = 4343")

mk("static-local-syslog", [("kernel/printk/printk.c",
   "\tcase SYSLOG_ACTION_SIZE_BUFFER:\n\t\terror = log_buf_len;",
   "\tcase SYSLOG_ACTION_SIZE_BUFFER:\n\t\terror = log_buf_len + 1;")],
   "n=$(/kp/bin/kp-syslog size)\ntest $((n % 2)) = 1")

mk("pipe-read", [("fs/pipe.c",
   "\tsize_t total_len = iov_iter_count(to);\n\tstruct file *filp = iocb->ki_filp;",
   "\tsize_t total_len = iov_iter_count(to);\n\tstruct file *filp = iocb->ki_filp;\n\n\tif (total_len == 4243)\n\t\ttotal_len = 4242;")],
   "test \"$(/kp/bin/kp-pipe-probe)\" = 4242")

# ---- stacking (two patches on one function; not in the combined module) ----
for tag in ("a", "b"):
    mk(f"stack-{tag}", [("fs/proc/version.c",
       "\t\tutsname()->version);\n\treturn 0;",
       f"\t\tutsname()->version);\n\tseq_puts(m, \"kp-stack-{tag}\\n\");\n\treturn 0;")],
       f"grep -q '^kp-stack-{tag}$' /proc/version", sub="stacking")

# ---- must be refused ----------------------------------------------------------
mk("init-FAIL", [("fs/proc/cmdline.c",
   "\tproc_create_single(\"cmdline\", 0, NULL, cmdline_proc_show);",
   "\tproc_create_single(\"cmdline\", 0444, NULL, cmdline_proc_show);")],
   expect={"exit": 2, "message": "init"})
mk("data-FAIL", [("kernel/sys.c",
   "int overflowuid = DEFAULT_OVERFLOWUID;", "int overflowuid = DEFAULT_OVERFLOWUID - 1;")],
   expect={"exit": 2, "message": "overflowuid"})
mk("line-only-FAIL", [("fs/proc/generic.c",
   "static DEFINE_RWLOCK(proc_subdir_lock);\n",
   "static DEFINE_RWLOCK(proc_subdir_lock);\n\n/* kp: this comment only moves the lines below. */\n")],
   expect={"exit": 3, "message": "no functional change"})
mk("assembly-FAIL", [("arch/x86/lib/memcpy_64.S",
   "SYM_FUNC_START_LOCAL(memcpy_erms)\n", "SYM_FUNC_START_LOCAL(memcpy_erms)\n\tnop\n")],
   expect={"exit": 2, "message": "assembly"})
print("ok")
