#!/usr/bin/env bash
# layers_test — the include graph of the tree (`make layers` runs it alone):
#  * no module above its layer: common/ includes nothing from envs/, actor/ or learner/; envs/
#    nothing from actor/ or learner/; actor/ nothing from learner/ (tests/ may include anything);
#  * no include cycle between modules (a module is a file without its extension, so a .c and its
#    .h are one module and actor.c -> online.h -> actor.h is a cycle; NAME_impl.h, the internal
#    header of module NAME, belongs to NAME);
#  * the checker itself finds both in a small tree that has them.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# layer of a path by its top folder; tests (and anything else) may include every layer
layer() {
  case $1 in
    common/*) echo 0 ;; envs/*) echo 1 ;; actor/*) echo 2 ;; learner/*) echo 3 ;; *) echo 9 ;;
  esac
}

# check_tree ROOT: prints one line per layer violation and per include cycle; the line count is
# what is wrong
check_tree() {
  local root=$1 edges src inc
  edges=$(mktemp)
  while IFS=: read -r src inc; do
    inc=${inc#*\"}; inc=${inc%\"*}
    [ -f "$root/$inc" ] || continue # not one of ours
    if [ "$(layer "$inc")" -gt "$(layer "$src")" ]; then
      echo "layer: $src includes $inc (${inc%%/*}/ is above ${src%%/*}/)"
    fi
    local a=${src%.*} b=${inc%.*}
    a=${a%_impl} b=${b%_impl}
    [ "$a" = "$b" ] || echo "$a $b" >>"$edges"
  done < <(cd "$root" && grep -H '^#include "' $(find common envs actor learner tests \
             -name '*.[ch]' 2>/dev/null | sort) 2>/dev/null)
  # tsort names the modules of each loop on the lines after "input contains a loop:"
  tsort "$edges" 2>&1 >/dev/null |
    awk '/input contains a loop/ {if (c) print c; c = "cycle:"; next}
         /^tsort: / {c = c " " $2} END {if (c) print c}'
  rm -f "$edges"
}

# 1. the tree
problems=$(check_tree "$here/..")
if [ -z "$problems" ]; then ok; else bad "the tree has layer violations or include cycles:"; echo "$problems"; fi
n_mod=$(cd "$here/.." && find common envs actor learner -name '*.[ch]' | sed 's/\.[ch]$//' | sort -u | wc -l)
check "[ $n_mod -gt 30 ]" "the tree's modules were found ($n_mod)"

# 2. the checker finds what it must: the old actor -> learner cycle, a common/ header reaching up
fx=$T/fixture
mkdir -p "$fx/common" "$fx/actor" "$fx/learner" "$fx/envs" "$fx/tests"
printf '#include "learner/online.h"\n' >"$fx/actor/actor.c"
printf '#include "actor/actor.h"\n' >"$fx/learner/online.h"
printf '#include "common/util.h"\n' >"$fx/actor/actor.h"
printf '#include "envs/env.h"\n#include <stdio.h>\n' >"$fx/common/util.h"
printf '#include "common/util.h"\n' >"$fx/envs/env.h"
printf '#include "learner/online.h"\n#include "actor/actor.h"\n' >"$fx/tests/test_x.c"
out=$(check_tree "$fx")
check "echo '$out' | grep -q 'layer: actor/actor.c includes learner/online.h'" "actor -> learner found ($out)"
check "echo '$out' | grep -q 'layer: common/util.h includes envs/env.h'" "common -> envs found"
check "echo '$out' | grep -q '^cycle' && echo '$out' | grep -q 'actor/actor' && echo '$out' | grep -q 'learner/online'" \
  "the actor <-> online cycle found"
check "! echo '$out' | grep -q 'tests/test_x'" "tests may include every layer"
check "[ \$(echo '$out' | grep -c '^layer') -eq 2 ]" "exactly the two violations"

report layers_test
