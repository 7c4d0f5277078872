/* maze.c — OGBench locomaze layouts, tasks, BFS oracle and the point-maze MJCF. */
#include "envs/maze.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* maps and tasks from ogbench/locomaze/maze.py (1.2.1) */
static const struct maze g_mazes[MAZE_N] = {
    [MAZE_MEDIUM] = {.name = "medium",
                     .H = 8,
                     .W = 8,
                     .rows = {"########", "#..##..#", "#..#...#", "##...###", "#..#...#",
                              "#.#..#.#", "#...#..#", "########"},
                     .task = {{1, 1, 6, 6}, {6, 1, 1, 6}, {5, 3, 4, 2}, {6, 5, 6, 1}, {2, 6, 1, 1}},
                     .rows_per_episode = 1001,
                     .episodes = 1000},
    [MAZE_LARGE] =
        {.name = "large",
         .H = 9,
         .W = 12,
         .rows = {"############", "#....#.....#", "#.##.#.#.#.#", "#......#...#", "#.####.###.#",
                  "#..#.#.....#", "##.#.#.#.###", "#..#...#...#", "############"},
         .task = {{1, 1, 7, 10}, {5, 4, 7, 1}, {7, 4, 1, 10}, {3, 8, 5, 4}, {1, 1, 5, 4}},
         .rows_per_episode = 1001,
         .episodes = 1000},
    [MAZE_GIANT] =
        {.name = "giant",
         .H = 12,
         .W = 16,
         .rows = {"################", "#.#......##....#", "#.#.##.#.#..##.#", "#...#..#...#...#",
                  "#.###.######.#.#", "#...#...#....#.#", "###.#.#..#.#.###", "#...#..#...#...#",
                  "#.#.#.######.#.#", "#.###...#...##.#", "#.....#...#....#", "################"},
         .task = {{1, 1, 10, 14}, {1, 14, 10, 1}, {8, 14, 1, 1}, {8, 3, 5, 12}, {5, 9, 3, 8}},
         .rows_per_episode = 2001,
         .episodes = 500},
    [MAZE_TELEPORT] =
        {.name = "teleport",
         .H = 9,
         .W = 12,
         .rows = {"############", "#.....#.#..#", "##.#...#..##", "##.###.....#", "#....#.#.#.#",
                  "#.##.#.#.#.#", "#.##.#.#.#.#", "#....#...#.#", "############"},
         .task = {{1, 10, 7, 1}, {1, 1, 7, 10}, {5, 6, 7, 10}, {7, 1, 7, 10}, {5, 6, 7, 1}},
         .rows_per_episode = 1001,
         .episodes = 1000,
         .n_tele_in = 2,
         .n_tele_out = 3,
         .tele_in = {{4, 6}, {5, 1}},
         .tele_out = {{1, 7}, {6, 1}, {6, 10}}},
};

const struct maze *maze_get(enum maze_type t) {
    if ((int)t < 0 || t >= MAZE_N) {
        return NULL;
    }
    return &g_mazes[t];
}

int maze_find(const char *name) {
    for (int t = 0; t < MAZE_N; t++) {
        if (strcmp(name, g_mazes[t].name) == 0) {
            return t;
        }
    }
    return -1;
}

int maze_free(const struct maze *mz, int i, int j) {
    return i >= 0 && i < mz->H && j >= 0 && j < mz->W && mz->rows[i][j] == '.';
}

void maze_ij_to_xy(int i, int j, double xy[2]) {
    xy[0] = j * MAZE_UNIT - 4.0;
    xy[1] = i * MAZE_UNIT - 4.0;
}

void maze_xy_to_ij(const double xy[2], int *i, int *j) {
    /* python int() truncates toward zero */
    *i = (int)((xy[1] + 4.0 + 0.5 * MAZE_UNIT) / MAZE_UNIT);
    *j = (int)((xy[0] + 4.0 + 0.5 * MAZE_UNIT) / MAZE_UNIT);
}

int maze_cells(const struct maze *mz, int vertex_only, int (*ij)[2]) {
    int n = 0;
    for (int i = 0; i < mz->H; i++) {
        for (int j = 0; j < mz->W; j++) {
            if (!maze_free(mz, i, j)) {
                continue;
            }
            if (vertex_only) {
                int up = maze_free(mz, i - 1, j), down = maze_free(mz, i + 1, j);
                int left = maze_free(mz, i, j - 1), right = maze_free(mz, i, j + 1);
                if ((up && down && !left && !right) || (left && right && !up && !down)) {
                    continue; /* straight corridor */
                }
            }
            if (ij) {
                ij[n][0] = i;
                ij[n][1] = j;
            }
            n++;
        }
    }
    return n;
}

static const int g_nbr[4][2] = {{-1, 0}, {0, -1}, {1, 0}, {0, 1}};

void maze_bfs(const struct maze *mz, int gi, int gj, int dist[MAZE_MAX_H][MAZE_MAX_W]) {
    int queue[MAZE_MAX_H * MAZE_MAX_W][2];
    for (int i = 0; i < MAZE_MAX_H; i++) {
        for (int j = 0; j < MAZE_MAX_W; j++) {
            dist[i][j] = -1;
        }
    }
    if (gi < 0 || gi >= mz->H || gj < 0 || gj >= mz->W) {
        return;
    }
    /* as OGBench: the goal cell gets 0 even if it is a wall */
    dist[gi][gj] = 0;
    int head = 0, tail = 0;
    queue[tail][0] = gi;
    queue[tail][1] = gj;
    tail++;
    while (head < tail) {
        int i = queue[head][0], j = queue[head][1];
        head++;
        for (int k = 0; k < 4; k++) {
            int ni = i + g_nbr[k][0], nj = j + g_nbr[k][1];
            if (maze_free(mz, ni, nj) && dist[ni][nj] == -1) {
                dist[ni][nj] = dist[i][j] + 1;
                queue[tail][0] = ni;
                queue[tail][1] = nj;
                tail++;
            }
        }
    }
}

void maze_subgoal(const struct maze *mz, const int dist[MAZE_MAX_H][MAZE_MAX_W], const double xy[2],
                  double sub[2]) {
    int si, sj;
    maze_xy_to_ij(xy, &si, &sj);
    int bi = si, bj = sj;
    int inside = si >= 0 && si < mz->H && sj >= 0 && sj < mz->W;
    if (inside) {
        for (int k = 0; k < 4; k++) {
            int ni = si + g_nbr[k][0], nj = sj + g_nbr[k][1];
            if (maze_free(mz, ni, nj) && dist[ni][nj] < dist[bi][bj]) {
                bi = ni;
                bj = nj;
            }
        }
    }
    maze_ij_to_xy(bi, bj, sub);
}

void maze_expert_dir(const struct maze *mz, const int dist[MAZE_MAX_H][MAZE_MAX_W],
                     const double xy[2], double dir[2]) {
    double sub[2];
    maze_subgoal(mz, dist, xy, sub);
    double dx = sub[0] - xy[0], dy = sub[1] - xy[1];
    double n = sqrt(dx * dx + dy * dy) + 1e-6;
    dir[0] = dx / n;
    dir[1] = dy / n;
}

/* appends formatted text; tracks overflow in *len (> bufsz means too small) */
static void put(char *buf, size_t bufsz, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t bufsz, size_t *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = *len < bufsz ? bufsz - *len : 0;
    int n = vsnprintf(room ? buf + *len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *len += (size_t)n;
    }
}

int maze_point_xml(const struct maze *mz, char *buf, size_t bufsz) {
    size_t len = 0;
    /* ogbench/locomaze/assets/point.xml without visual-only items (textures, lights, target) */
    put(buf, bufsz, &len,
        "<mujoco model=\"pointmaze-%s\">\n"
        "  <compiler inertiafromgeom=\"true\" angle=\"degree\" coordinate=\"local\"/>\n"
        "  <option timestep=\"0.02\" integrator=\"RK4\"/>\n"
        "  <default>\n"
        "    <joint limited=\"false\" armature=\"0\" damping=\"0\"/>\n"
        "    <geom condim=\"3\" conaffinity=\"0\" margin=\"0\" friction=\"1 0.5 0.5\" "
        "density=\"100\"/>\n"
        "  </default>\n"
        "  <worldbody>\n"
        "    <geom name=\"floor\" pos=\"%d %d 0\" size=\"%d %d .2\" type=\"plane\" "
        "conaffinity=\"1\" condim=\"3\"/>\n"
        "    <body name=\"torso\" pos=\"0 0 0\">\n"
        "      <geom name=\"pointbody\" type=\"sphere\" size=\"0.7\" pos=\"0 0 0.7\"/>\n"
        "      <joint name=\"ballx\" type=\"slide\" axis=\"1 0 0\" pos=\"0 0 0\"/>\n"
        "      <joint name=\"bally\" type=\"slide\" axis=\"0 1 0\" pos=\"0 0 0\"/>\n"
        "    </body>\n",
        mz->name, 2 * (mz->W - 3), 2 * (mz->H - 3), 2 * mz->W, 2 * mz->H);
    /* walls: 4 m cells, 2 m tall (maze_height 0.5 x unit) */
    for (int i = 0; i < mz->H; i++) {
        for (int j = 0; j < mz->W; j++) {
            if (mz->rows[i][j] != '#') {
                continue;
            }
            double xy[2];
            maze_ij_to_xy(i, j, xy);
            put(buf, bufsz, &len,
                "    <geom name=\"block_%d_%d\" pos=\"%g %g 1\" size=\"2 2 1\" type=\"box\" "
                "contype=\"1\" conaffinity=\"1\"/>\n",
                i, j, xy[0], xy[1]);
        }
    }
    put(buf, bufsz, &len,
        "  </worldbody>\n"
        "  <actuator>\n"
        "    <motor joint=\"ballx\" ctrlrange=\"-1 1\" ctrllimited=\"true\"/>\n"
        "    <motor joint=\"bally\" ctrlrange=\"-1 1\" ctrllimited=\"true\"/>\n"
        "  </actuator>\n"
        "</mujoco>\n");
    if (len >= bufsz) {
        return -1;
    }
    return (int)len;
}

int maze_parse_name(const char *env_name, int *agent, int *maze, int *task) {
    const char *p;
    if (strncmp(env_name, "pointmaze-", 10) == 0) {
        *agent = 0;
        p = env_name + 10;
    } else if (strncmp(env_name, "antmaze-", 8) == 0) {
        *agent = 1;
        p = env_name + 8;
    } else {
        return -1;
    }
    const char *dash = strchr(p, '-');
    if (!dash || dash - p >= 16) {
        return -1;
    }
    char mname[16];
    memcpy(mname, p, (size_t)(dash - p));
    mname[dash - p] = 0;
    *maze = maze_find(mname);
    if (*maze < 0) {
        return -1;
    }
    p = dash;
    if (strcmp(p, "-navigate-v0") == 0) {
        *task = 0;
        return 0;
    }
    if (strcmp(p, "-navigate-singletask-v0") == 0) {
        *task = 1;
        return 0;
    }
    if (strncmp(p, "-navigate-singletask-task", 25) == 0 && p[25] >= '1' &&
        p[25] <= '0' + MAZE_N_TASKS && strcmp(p + 26, "-v0") == 0) {
        *task = p[25] - '0';
        return 0;
    }
    return -1;
}

int maze_env_goal(const char *env_name, double goal[2], double *tol, char *err, size_t errsz) {
    int agent, maze, task;
    if (maze_parse_name(env_name, &agent, &maze, &task) || task == 0) {
        snprintf(err, errsz,
                 "%s is not a singletask maze env; expected "
                 "{point,ant}maze-{medium,large,giant,teleport}-navigate-singletask[-task1..5]-v0",
                 env_name);
        return -1;
    }
    const int *t = g_mazes[maze].task[task - 1];
    maze_ij_to_xy(t[2], t[3], goal);
    *tol = agent == 0 ? MAZE_POINT_TOL : MAZE_ANT_TOL;
    return 0;
}
