/* maze.h — OGBench locomaze layouts (medium, large, giant, teleport), cell geometry, the five
 * evaluation tasks, the BFS oracle used by the navigate datasets, the point model as MJCF, and
 * the goal of a singletask env name (for dataset relabelling).
 *
 *   const struct maze *mz = maze_get(MAZE_LARGE);
 *   int dist[MAZE_MAX_H][MAZE_MAX_W];
 *   maze_bfs(mz, gi, gj, dist);                 // 4-neighbour distances to the goal cell
 *   double dir[2];
 *   maze_expert_dir(mz, dist, xy, dir);         // unit vector to the next BFS cell's centre
 *
 *   double goal[2], tol;
 *   maze_env_goal("antmaze-large-navigate-singletask-task3-v0", goal, &tol, err, sizeof err);
 *
 * Cell (i,j): row i ↔ y, column j ↔ x; centre x = 4j - 4, y = 4i - 4 (cell (1,1) is the origin).
 */
#ifndef FLOQ_MAZE_H
#define FLOQ_MAZE_H

#include <stddef.h>

#define MAZE_MAX_H     12
#define MAZE_MAX_W     16
#define MAZE_UNIT      4.0
#define MAZE_N_TASKS   5
#define MAZE_POINT_TOL 1.0 /* goal tolerance of the point agent */
#define MAZE_ANT_TOL   0.5 /* goal tolerance of the ant agent */

enum maze_type { MAZE_MEDIUM, MAZE_LARGE, MAZE_GIANT, MAZE_TELEPORT, MAZE_N };

struct maze {
    const char *name;                  /* "medium", ... */
    int H, W;                          /* rows, columns */
    const char *rows[MAZE_MAX_H];      /* '#' wall, '.' free */
    int task[MAZE_N_TASKS][4];         /* start i, start j, goal i, goal j */
    int rows_per_episode;              /* navigate dataset: 1001 (giant 2001) */
    int episodes;                      /* navigate dataset training episodes: 1000 (giant 500) */
    int n_tele_in, n_tele_out;         /* teleport pads (teleport maze only) */
    int tele_in[2][2], tele_out[3][2]; /* pad cells (i, j) */
};

/* the maze of a type; NULL if out of range */
const struct maze *maze_get(enum maze_type t);
/* the maze type called name ("medium", ...), or -1 */
int maze_find(const char *name);
/* 1 if (i,j) is inside the map and free */
int maze_free(const struct maze *mz, int i, int j);
/* cell centre */
void maze_ij_to_xy(int i, int j, double xy[2]);
/* cell containing xy (OGBench's int() truncation; may lie outside the map) */
void maze_xy_to_ij(const double xy[2], int *i, int *j);
/* free cells in row-major order into ij (n x 2, may be NULL); vertex_only skips straight
 * 1-wide corridor cells (the goal cells of the navigate datasets); returns the count */
int maze_cells(const struct maze *mz, int vertex_only, int (*ij)[2]);
/* BFS from the goal cell: dist[i][j] = steps to the goal, -1 for walls and unreachable cells */
void maze_bfs(const struct maze *mz, int gi, int gj, int dist[MAZE_MAX_H][MAZE_MAX_W]);
/* OGBench's oracle subgoal: among the free 4-neighbours of xy's cell, scanned (-1,0),(0,-1),
 * (1,0),(0,1), the first with a strictly smaller distance than the best so far (starting from
 * the cell itself); returns its centre in sub */
void maze_subgoal(const struct maze *mz, const int dist[MAZE_MAX_H][MAZE_MAX_W], const double xy[2],
                  double sub[2]);
/* (sub - xy) / (|sub - xy| + 1e-6): the point expert's action before noise */
void maze_expert_dir(const struct maze *mz, const int dist[MAZE_MAX_H][MAZE_MAX_W],
                     const double xy[2], double dir[2]);
/* writes the OGBench point-in-maze MJCF (point.xml + walls + resized floor) into buf;
 * returns the length, or -1 if bufsz is too small */
int maze_point_xml(const struct maze *mz, char *buf, size_t bufsz);

/* goal xy and tolerance of a singletask maze env name, e.g.
 * "pointmaze-large-navigate-singletask-task3-v0" (tol 1.0) or "antmaze-giant-..." (tol 0.5);
 * "...-navigate-singletask-v0" means task1. 0, or -1 with a message if the name is not one */
int maze_env_goal(const char *env_name, double goal[2], double *tol, char *err, size_t errsz);
/* parses "{point,ant}maze-MAZE-navigate[-singletask[-taskN]]-v0": *agent 0 point / 1 ant,
 * *maze, *task 1..5 (singletask) or 0 (plain navigate); 0 or -1 */
int maze_parse_name(const char *env_name, int *agent, int *maze, int *task);

#endif
