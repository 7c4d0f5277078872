/* models_loco.c — MJCF text of Hopper-v4, Walker2d-v4, HalfCheetah-v4 and Ant-v4 (see the header).
 *
 * Written from the model tables of envs-facts.md A.2 (Gymnasium v4 assets). Only attributes with a
 * physical effect are kept; lights, textures, materials, cameras and <custom> are dropped.
 */
#include "envs/models_loco.h"

/* pieces shared by the models (most by the planar walkers: hopper, walker2d, half cheetah) */

/* the root: slide x, slide z, hinge y, unlimited and undamped; rootz_extra is inserted into
 * rootz's attributes, rooty_pos is the hinge's position */
#define PLANAR_ROOT(rootz_extra, rooty_pos)                                                        \
    "      <joint armature=\"0\" axis=\"1 0 0\" damping=\"0\" limited=\"false\" name=\"rootx\""    \
    " pos=\"0 0 0\" stiffness=\"0\" type=\"slide\"/>\n"                                            \
    "      <joint armature=\"0\" axis=\"0 0 1\" damping=\"0\" limited=\"false\" name=\"rootz\""    \
    " pos=\"0 0 0\"" rootz_extra " stiffness=\"0\" type=\"slide\"/>\n"                             \
    "      <joint armature=\"0\" axis=\"0 1 0\" damping=\"0\" limited=\"false\" name=\"rooty\""    \
    " pos=\"" rooty_pos "\" stiffness=\"0\" type=\"hinge\"/>\n"

/* hopper's and walker2d's torso capsule (global coordinates) */
#define WALKER_TORSO_GEOM                                                                          \
    "      <geom friction=\"0.9\" fromto=\"0 0 1.45 0 0 1.05\" name=\"torso_geom\" size=\"0.05\""  \
    " type=\"capsule\"/>\n"

/* hopper's and walker2d's thigh and shin (global coordinates), up to the foot body; the names
 * carry sfx ("" or "_left") */
#define WALKER_THIGH_LEG(sfx)                                                                      \
    "      <body name=\"thigh" sfx "\" pos=\"0 0 1.05\">\n"                                        \
    "        <joint axis=\"0 -1 0\" name=\"thigh" sfx "_joint\" pos=\"0 0 1.05\" range=\"-150 0\"" \
    " type=\"hinge\"/>\n"                                                                          \
    "        <geom friction=\"0.9\" fromto=\"0 0 1.05 0 0 0.6\" name=\"thigh" sfx "_geom\""        \
    " size=\"0.05\" type=\"capsule\"/>\n"                                                          \
    "        <body name=\"leg" sfx "\" pos=\"0 0 0.35\">\n"                                        \
    "          <joint axis=\"0 -1 0\" name=\"leg" sfx "_joint\" pos=\"0 0 0.6\" range=\"-150 0\""  \
    " type=\"hinge\"/>\n"                                                                          \
    "          <geom friction=\"0.9\" fromto=\"0 0 0.6 0 0 0.1\" name=\"leg" sfx "_geom\""         \
    " size=\"0.04\" type=\"capsule\"/>\n"

/* a whole hopper / walker2d leg: thigh, shin and foot (at foot_pos, with foot_friction, from
 * foot_fromto) */
#define WALKER_LEG(sfx, foot_pos, foot_friction, foot_fromto)                                      \
    WALKER_THIGH_LEG(sfx)                                                                          \
    "          <body name=\"foot" sfx "\" pos=\"" foot_pos "\">\n"                                 \
    "            <joint axis=\"0 -1 0\" name=\"foot" sfx                                           \
    "_joint\" pos=\"0 0 0.1\" range=\"-45 45\""                                                    \
    " type=\"hinge\"/>\n"                                                                          \
    "            <geom friction=\"" foot_friction "\" fromto=\"" foot_fromto "\" name=\"foot" sfx  \
    "_geom\" size=\"0.06\" type=\"capsule\"/>\n"                                                   \
    "          </body>\n"                                                                          \
    "        </body>\n"                                                                            \
    "      </body>\n"

/* every model: closes the torso and the world body, opens the actuators */
#define TORSO_END                                                                                  \
    "    </body>\n"                                                                                \
    "  </worldbody>\n"                                                                             \
    "  <actuator>\n"

/* a hopper / walker2d motor on joint with gear */
#define WALKER_MOTOR(gear, joint)                                                                  \
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" gear=\"" gear "\" joint=\"" joint      \
    "\"/>\n"

/* the model texts concatenate strings with the macros above; clang-format would join them */
/* clang-format off */
/* hopper: global coordinates, degrees, RK4 at 0.002 s; root joints unlimited and undamped */
const char models_loco_hopper_xml[] =
    "<mujoco model=\"hopper\">\n"
    "  <compiler angle=\"degree\" coordinate=\"global\" inertiafromgeom=\"true\"/>\n"
    "  <option integrator=\"RK4\" timestep=\"0.002\"/>\n"
    "  <default>\n"
    "    <joint armature=\"1\" damping=\"1\" limited=\"true\"/>\n"
    "    <geom conaffinity=\"1\" condim=\"1\" contype=\"1\" margin=\"0.001\""
    " solimp=\".8 .8 .01\" solref=\".02 1\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-.4 .4\"/>\n"
    "  </default>\n"
    "  <worldbody>\n"
    "    <geom conaffinity=\"1\" condim=\"3\" name=\"floor\" pos=\"0 0 0\" size=\"20 20 .125\""
    " type=\"plane\"/>\n"
    "    <body name=\"torso\" pos=\"0 0 1.25\">\n"
    PLANAR_ROOT(" ref=\"1.25\"", "0 0 1.25")
    WALKER_TORSO_GEOM
    WALKER_LEG("", "0.13 0 0", "2.0", "-0.13 0 0.1 0.26 0 0.1")
    TORSO_END
    WALKER_MOTOR("200.0", "thigh_joint")
    WALKER_MOTOR("200.0", "leg_joint")
    WALKER_MOTOR("200.0", "foot_joint")
    "  </actuator>\n"
    "</mujoco>\n";

/* walker2d (v4 friction: right foot 0.9, left foot 1.9): global coordinates, degrees, RK4 */
const char models_loco_walker2d_xml[] =
    "<mujoco model=\"walker2d\">\n"
    "  <compiler angle=\"degree\" coordinate=\"global\" inertiafromgeom=\"true\"/>\n"
    "  <default>\n"
    "    <joint armature=\"0.01\" damping=\".1\" limited=\"true\"/>\n"
    "    <geom conaffinity=\"0\" condim=\"3\" contype=\"1\" density=\"1000\""
    " friction=\".7 .1 .1\"/>\n"
    "  </default>\n"
    "  <option integrator=\"RK4\" timestep=\"0.002\"/>\n"
    "  <worldbody>\n"
    "    <geom conaffinity=\"1\" condim=\"3\" name=\"floor\" pos=\"0 0 0\" size=\"40 40 40\""
    " type=\"plane\"/>\n"
    "    <body name=\"torso\" pos=\"0 0 1.25\">\n"
    PLANAR_ROOT(" ref=\"1.25\"", "0 0 1.25")
    WALKER_TORSO_GEOM
    WALKER_LEG("", "0.2 0 0", "0.9", "0 0 0.1 0.2 0 0.1")
    WALKER_LEG("_left", "0.2 0 0", "1.9", "0 0 0.1 0.2 0 0.1")
    TORSO_END
    WALKER_MOTOR("100", "thigh_joint")
    WALKER_MOTOR("100", "leg_joint")
    WALKER_MOTOR("100", "foot_joint")
    WALKER_MOTOR("100", "thigh_left_joint")
    WALKER_MOTOR("100", "leg_left_joint")
    WALKER_MOTOR("100", "foot_left_joint")
    "  </actuator>\n"
    "</mujoco>\n";

/* half cheetah: local coordinates, radians, Euler at 0.01 s (no integrator attribute) */
const char models_loco_halfcheetah_xml[] =
    "<mujoco model=\"cheetah\">\n"
    "  <compiler angle=\"radian\" coordinate=\"local\" inertiafromgeom=\"true\""
    " settotalmass=\"14\"/>\n"
    "  <default>\n"
    "    <joint armature=\".1\" damping=\".01\" limited=\"true\" solimplimit=\"0 .8 .03\""
    " solreflimit=\".02 1\" stiffness=\"8\"/>\n"
    "    <geom conaffinity=\"0\" condim=\"3\" contype=\"1\" friction=\".4 .1 .1\""
    " solimp=\"0.0 0.8 0.01\" solref=\"0.02 1\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1 1\"/>\n"
    "  </default>\n"
    "  <size nstack=\"300000\" nuser_geom=\"1\"/>\n"
    "  <option gravity=\"0 0 -9.81\" timestep=\"0.01\"/>\n"
    "  <worldbody>\n"
    "    <geom conaffinity=\"1\" condim=\"3\" name=\"floor\" pos=\"0 0 0\" size=\"40 40 40\""
    " type=\"plane\"/>\n"
    "    <body name=\"torso\" pos=\"0 0 .7\">\n"
    PLANAR_ROOT("", "0 0 0")
    "      <geom fromto=\"-.5 0 0 .5 0 0\" name=\"torso\" size=\"0.046\" type=\"capsule\"/>\n"
    "      <geom axisangle=\"0 1 0 .87\" name=\"head\" pos=\".6 0 .1\" size=\"0.046 .15\""
    " type=\"capsule\"/>\n"
    "      <body name=\"bthigh\" pos=\"-.5 0 0\">\n"
    "        <joint axis=\"0 1 0\" damping=\"6\" name=\"bthigh\" pos=\"0 0 0\""
    " range=\"-.52 1.05\" stiffness=\"240\" type=\"hinge\"/>\n"
    "        <geom axisangle=\"0 1 0 -3.8\" name=\"bthigh\" pos=\".1 0 -.13\""
    " size=\"0.046 .145\" type=\"capsule\"/>\n"
    "        <body name=\"bshin\" pos=\".16 0 -.25\">\n"
    "          <joint axis=\"0 1 0\" damping=\"4.5\" name=\"bshin\" pos=\"0 0 0\""
    " range=\"-.785 .785\" stiffness=\"180\" type=\"hinge\"/>\n"
    "          <geom axisangle=\"0 1 0 -2.03\" name=\"bshin\" pos=\"-.14 0 -.07\""
    " size=\"0.046 .15\" type=\"capsule\"/>\n"
    "          <body name=\"bfoot\" pos=\"-.28 0 -.14\">\n"
    "            <joint axis=\"0 1 0\" damping=\"3\" name=\"bfoot\" pos=\"0 0 0\""
    " range=\"-.4 .785\" stiffness=\"120\" type=\"hinge\"/>\n"
    "            <geom axisangle=\"0 1 0 -.27\" name=\"bfoot\" pos=\".03 0 -.097\""
    " size=\"0.046 .094\" type=\"capsule\"/>\n"
    "          </body>\n"
    "        </body>\n"
    "      </body>\n"
    "      <body name=\"fthigh\" pos=\".5 0 0\">\n"
    "        <joint axis=\"0 1 0\" damping=\"4.5\" name=\"fthigh\" pos=\"0 0 0\" range=\"-1 .7\""
    " stiffness=\"180\" type=\"hinge\"/>\n"
    "        <geom axisangle=\"0 1 0 .52\" name=\"fthigh\" pos=\"-.07 0 -.12\""
    " size=\"0.046 .133\" type=\"capsule\"/>\n"
    "        <body name=\"fshin\" pos=\"-.14 0 -.24\">\n"
    "          <joint axis=\"0 1 0\" damping=\"3\" name=\"fshin\" pos=\"0 0 0\""
    " range=\"-1.2 .87\" stiffness=\"120\" type=\"hinge\"/>\n"
    "          <geom axisangle=\"0 1 0 -.6\" name=\"fshin\" pos=\".065 0 -.09\""
    " size=\"0.046 .106\" type=\"capsule\"/>\n"
    "          <body name=\"ffoot\" pos=\".13 0 -.18\">\n"
    "            <joint axis=\"0 1 0\" damping=\"1.5\" name=\"ffoot\" pos=\"0 0 0\""
    " range=\"-.5 .5\" stiffness=\"60\" type=\"hinge\"/>\n"
    "            <geom axisangle=\"0 1 0 -.6\" name=\"ffoot\" pos=\".045 0 -.07\""
    " size=\"0.046 .07\" type=\"capsule\"/>\n"
    "          </body>\n"
    "        </body>\n"
    "      </body>\n"
    TORSO_END
    "    <motor gear=\"120\" joint=\"bthigh\" name=\"bthigh\"/>\n"
    "    <motor gear=\"90\" joint=\"bshin\" name=\"bshin\"/>\n"
    "    <motor gear=\"60\" joint=\"bfoot\" name=\"bfoot\"/>\n"
    "    <motor gear=\"120\" joint=\"fthigh\" name=\"fthigh\"/>\n"
    "    <motor gear=\"60\" joint=\"fshin\" name=\"fshin\"/>\n"
    "    <motor gear=\"30\" joint=\"ffoot\" name=\"ffoot\"/>\n"
    "  </actuator>\n"
    "</mujoco>\n";

/* ant: local coordinates, degrees, RK4 at 0.01 s; actuators hip_4, ankle_4, hip_1, ankle_1, ... */
const char models_loco_ant_xml[] =
    "<mujoco model=\"ant\">\n"
    "  <compiler angle=\"degree\" coordinate=\"local\" inertiafromgeom=\"true\"/>\n"
    "  <option integrator=\"RK4\" timestep=\"0.01\"/>\n"
    "  <default>\n"
    "    <joint armature=\"1\" damping=\"1\" limited=\"true\"/>\n"
    "    <geom conaffinity=\"0\" condim=\"3\" density=\"5.0\" friction=\"1 0.5 0.5\""
    " margin=\"0.01\"/>\n"
    "  </default>\n"
    "  <worldbody>\n"
    "    <geom conaffinity=\"1\" condim=\"3\" name=\"floor\" pos=\"0 0 0\" size=\"40 40 40\""
    " type=\"plane\"/>\n"
    "    <body name=\"torso\" pos=\"0 0 0.75\">\n"
    "      <geom name=\"torso_geom\" pos=\"0 0 0\" size=\"0.25\" type=\"sphere\"/>\n"
    "      <joint armature=\"0\" damping=\"0\" limited=\"false\" margin=\"0.01\" name=\"root\""
    " pos=\"0 0 0\" type=\"free\"/>\n"
    "      <body name=\"front_left_leg\" pos=\"0 0 0\">\n"
    "        <geom fromto=\"0.0 0.0 0.0 0.2 0.2 0.0\" name=\"aux_1_geom\" size=\"0.08\""
    " type=\"capsule\"/>\n"
    "        <body name=\"aux_1\" pos=\"0.2 0.2 0\">\n"
    "          <joint axis=\"0 0 1\" name=\"hip_1\" pos=\"0.0 0.0 0.0\" range=\"-30 30\""
    " type=\"hinge\"/>\n"
    "          <geom fromto=\"0.0 0.0 0.0 0.2 0.2 0.0\" name=\"left_leg_geom\" size=\"0.08\""
    " type=\"capsule\"/>\n"
    "          <body pos=\"0.2 0.2 0\">\n"
    "            <joint axis=\"-1 1 0\" name=\"ankle_1\" pos=\"0.0 0.0 0.0\" range=\"30 70\""
    " type=\"hinge\"/>\n"
    "            <geom fromto=\"0.0 0.0 0.0 0.4 0.4 0.0\" name=\"left_ankle_geom\""
    " size=\"0.08\" type=\"capsule\"/>\n"
    "          </body>\n"
    "        </body>\n"
    "      </body>\n"
    "      <body name=\"front_right_leg\" pos=\"0 0 0\">\n"
    "        <geom fromto=\"0.0 0.0 0.0 -0.2 0.2 0.0\" name=\"aux_2_geom\" size=\"0.08\""
    " type=\"capsule\"/>\n"
    "        <body name=\"aux_2\" pos=\"-0.2 0.2 0\">\n"
    "          <joint axis=\"0 0 1\" name=\"hip_2\" pos=\"0.0 0.0 0.0\" range=\"-30 30\""
    " type=\"hinge\"/>\n"
    "          <geom fromto=\"0.0 0.0 0.0 -0.2 0.2 0.0\" name=\"right_leg_geom\" size=\"0.08\""
    " type=\"capsule\"/>\n"
    "          <body pos=\"-0.2 0.2 0\">\n"
    "            <joint axis=\"1 1 0\" name=\"ankle_2\" pos=\"0.0 0.0 0.0\" range=\"-70 -30\""
    " type=\"hinge\"/>\n"
    "            <geom fromto=\"0.0 0.0 0.0 -0.4 0.4 0.0\" name=\"right_ankle_geom\""
    " size=\"0.08\" type=\"capsule\"/>\n"
    "          </body>\n"
    "        </body>\n"
    "      </body>\n"
    "      <body name=\"back_leg\" pos=\"0 0 0\">\n"
    "        <geom fromto=\"0.0 0.0 0.0 -0.2 -0.2 0.0\" name=\"aux_3_geom\" size=\"0.08\""
    " type=\"capsule\"/>\n"
    "        <body name=\"aux_3\" pos=\"-0.2 -0.2 0\">\n"
    "          <joint axis=\"0 0 1\" name=\"hip_3\" pos=\"0.0 0.0 0.0\" range=\"-30 30\""
    " type=\"hinge\"/>\n"
    "          <geom fromto=\"0.0 0.0 0.0 -0.2 -0.2 0.0\" name=\"back_leg_geom\" size=\"0.08\""
    " type=\"capsule\"/>\n"
    "          <body pos=\"-0.2 -0.2 0\">\n"
    "            <joint axis=\"-1 1 0\" name=\"ankle_3\" pos=\"0.0 0.0 0.0\" range=\"-70 -30\""
    " type=\"hinge\"/>\n"
    "            <geom fromto=\"0.0 0.0 0.0 -0.4 -0.4 0.0\" name=\"third_ankle_geom\""
    " size=\"0.08\" type=\"capsule\"/>\n"
    "          </body>\n"
    "        </body>\n"
    "      </body>\n"
    "      <body name=\"right_back_leg\" pos=\"0 0 0\">\n"
    "        <geom fromto=\"0.0 0.0 0.0 0.2 -0.2 0.0\" name=\"aux_4_geom\" size=\"0.08\""
    " type=\"capsule\"/>\n"
    "        <body name=\"aux_4\" pos=\"0.2 -0.2 0\">\n"
    "          <joint axis=\"0 0 1\" name=\"hip_4\" pos=\"0.0 0.0 0.0\" range=\"-30 30\""
    " type=\"hinge\"/>\n"
    "          <geom fromto=\"0.0 0.0 0.0 0.2 -0.2 0.0\" name=\"rightback_leg_geom\""
    " size=\"0.08\" type=\"capsule\"/>\n"
    "          <body pos=\"0.2 -0.2 0\">\n"
    "            <joint axis=\"1 1 0\" name=\"ankle_4\" pos=\"0.0 0.0 0.0\" range=\"30 70\""
    " type=\"hinge\"/>\n"
    "            <geom fromto=\"0.0 0.0 0.0 0.4 -0.4 0.0\" name=\"fourth_ankle_geom\""
    " size=\"0.08\" type=\"capsule\"/>\n"
    "          </body>\n"
    "        </body>\n"
    "      </body>\n"
    TORSO_END
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" joint=\"hip_4\" gear=\"150\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" joint=\"ankle_4\" gear=\"150\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" joint=\"hip_1\" gear=\"150\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" joint=\"ankle_1\" gear=\"150\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" joint=\"hip_2\" gear=\"150\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" joint=\"ankle_2\" gear=\"150\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" joint=\"hip_3\" gear=\"150\"/>\n"
    "    <motor ctrllimited=\"true\" ctrlrange=\"-1.0 1.0\" joint=\"ankle_3\" gear=\"150\"/>\n"
    "  </actuator>\n"
    "</mujoco>\n";
/* clang-format on */
