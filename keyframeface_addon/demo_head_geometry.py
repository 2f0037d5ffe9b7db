"""Geometry of the procedural demo head and its 52 ARKit shape keys (numpy only, no bpy).

The head faces -Y with +Z up; +X is the character's own left, which is what ARKit's "Left"
means. It is one mesh made of parts (skin, hair, ears, brows, eyelids, eyeballs, lips, teeth,
tongue, mouth cavity) so that every shape key lives on one Key datablock, as on a real
ARKit head. Each shape key is the basis plus a displacement field over the parts it moves:
jawOpen rotates the lower face about the jaw hinge, eyeBlinkLeft rotates the +X upper lid
down over the eyeball, mouthSmileRight lifts the -X mouth corner, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

# Parts, also material slots.
SKIN, HAIR, BROW, LID, SCLERA, IRIS, PUPIL, LIP, TEETH, TONGUE, CAVITY = range(11)
MATERIALS = {
    SKIN: ("KFF Skin", (0.80, 0.58, 0.47, 1.0)),
    HAIR: ("KFF Hair", (0.12, 0.08, 0.06, 1.0)),
    BROW: ("KFF Brow", (0.16, 0.10, 0.07, 1.0)),
    LID: ("KFF Lid", (0.76, 0.54, 0.44, 1.0)),
    SCLERA: ("KFF Sclera", (0.95, 0.95, 0.93, 1.0)),
    IRIS: ("KFF Iris", (0.22, 0.42, 0.62, 1.0)),
    PUPIL: ("KFF Pupil", (0.02, 0.02, 0.02, 1.0)),
    LIP: ("KFF Lip", (0.72, 0.32, 0.32, 1.0)),
    TEETH: ("KFF Teeth", (0.95, 0.93, 0.86, 1.0)),
    TONGUE: ("KFF Tongue", (0.80, 0.36, 0.38, 1.0)),
    CAVITY: ("KFF Mouth", (0.18, 0.03, 0.04, 1.0)),
}

# Head proportions (metres).
RX, RY, RZ = 0.076, 0.094, 0.112
EYE_X, EYE_Z = 0.031, 0.018
EYE_RADIUS = 0.0122
LID_RADIUS = 0.0140
MOUTH_Z = -0.046
MOUTH_HALF_WIDTH = 0.024
JAW_HINGE = np.array([0.0, 0.018, -0.004])
UPPER_LID_OPEN = np.radians(16.0)
LOWER_LID_OPEN = np.radians(-24.0)


@dataclass
class Mesh:
    vertices: list = field(default_factory=list)
    faces: list = field(default_factory=list)
    face_materials: list = field(default_factory=list)
    vertex_parts: list = field(default_factory=list)
    vertex_tags: list = field(default_factory=list)

    def add(self, vertices, faces, material, part=None, tag=""):
        offset = sum(len(v) for v in self.vertices)
        vertices = np.asarray(vertices, dtype=np.float64)
        self.vertices.append(vertices)
        self.faces.extend([tuple(int(i) + offset for i in face) for face in faces])
        materials = material if isinstance(material, (list, np.ndarray)) else [material] * len(faces)
        self.face_materials.extend(int(m) for m in materials)
        self.vertex_parts.append(np.full(len(vertices), material if part is None else part))
        self.vertex_tags.extend([tag] * len(vertices))

    def arrays(self):
        return (np.concatenate(self.vertices), self.faces, np.array(self.face_materials),
                np.concatenate(self.vertex_parts), np.array(self.vertex_tags))


def _grid_faces(rows: int, cols: int, wrap: bool):
    faces = []
    for r in range(rows - 1):
        for c in range(cols if wrap else cols - 1):
            c2 = (c + 1) % cols
            faces.append((r * cols + c, r * cols + c2, (r + 1) * cols + c2, (r + 1) * cols + c))
    return faces


def _smoothstep(edge0, edge1, x):
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(points, centre, sigma):
    d = points - np.asarray(centre)
    if np.ndim(sigma) == 0:
        sigma = (sigma, sigma, sigma)
    return np.exp(-0.5 * np.sum((d / np.asarray(sigma)) ** 2, axis=1))


def skin_surface(theta, phi):
    """Head surface at azimuth ``theta`` (0 = front) and elevation ``phi``."""
    theta, phi = np.broadcast_arrays(theta, phi)
    x = RX * np.cos(phi) * np.sin(theta)
    y = -RY * np.cos(phi) * np.cos(theta)
    z = RZ * np.sin(phi)
    points = np.stack([x, y, z], axis=-1)
    # Narrower jaw and chin, a flatter face, a slight forehead.
    lower = _smoothstep(0.0, -RZ, z)
    points[..., 0] *= 1.0 - 0.20 * lower
    front = np.clip(-y / RY, 0.0, 1.0)
    points[..., 1] += 0.010 * front * (1.0 - lower)
    flat = points.reshape(-1, 3)
    # Eye sockets, nose, brow ridge, chin.
    for side in (1.0, -1.0):
        flat[:, 1] += 0.007 * _gauss(flat, (side * EYE_X, -RY, EYE_Z), (0.013, 0.05, 0.010))
        flat[:, 1] -= 0.004 * _gauss(flat, (side * EYE_X, -RY, EYE_Z + 0.017), (0.018, 0.05, 0.006))
    nose = _gauss(flat, (0.0, -RY, -0.012), (0.009, 0.06, 0.020)) * _smoothstep(-0.034, -0.020, flat[:, 2])
    flat[:, 1] -= 0.024 * nose
    flat[:, 1] -= 0.006 * _gauss(flat, (0.0, -RY, -0.030), (0.016, 0.06, 0.005))
    flat[:, 1] -= 0.008 * _gauss(flat, (0.0, -RY, -0.085), (0.018, 0.05, 0.012))
    flat[:, 1] += 0.004 * _gauss(flat, (0.0, -RY, MOUTH_Z), (MOUTH_HALF_WIDTH, 0.06, 0.006))
    return flat.reshape(points.shape)


@lru_cache(maxsize=1)
def _front_lookup():
    """Depth (y) of the front skin surface on an (x, z) grid: the most forward surface sample
    falling in each cell of a dense sampling of the front half of the head."""
    thetas = np.linspace(-1.4, 1.4, 400)
    phis = np.linspace(-1.45, 1.45, 500)
    flat = skin_surface(thetas[None, :], phis[:, None]).reshape(-1, 3)
    xs = np.linspace(-0.07, 0.07, 71)
    zs = np.linspace(-0.11, 0.11, 111)
    j = np.clip(np.round(np.interp(flat[:, 0], xs, np.arange(len(xs)))).astype(int), 0, len(xs) - 1)
    i = np.clip(np.round(np.interp(flat[:, 2], zs, np.arange(len(zs)))).astype(int), 0, len(zs) - 1)
    grid = np.full((len(zs), len(xs)), np.inf)
    np.minimum.at(grid, (i, j), flat[:, 1])
    grid[~np.isfinite(grid)] = 0.0
    return xs, zs, grid


def _front(x, z):
    """The y of the front skin surface at (x, z)."""
    xs, zs, g = _front_lookup()
    j = np.interp(x, xs, np.arange(len(xs)))
    i = np.interp(z, zs, np.arange(len(zs)))
    j0, i0 = int(np.floor(j)), int(np.floor(i))
    j1, i1 = min(j0 + 1, len(xs) - 1), min(i0 + 1, len(zs) - 1)
    fj, fi = j - j0, i - i0
    return (g[i0, j0] * (1 - fj) * (1 - fi) + g[i0, j1] * fj * (1 - fi)
            + g[i1, j0] * (1 - fj) * fi + g[i1, j1] * fj * fi)


def _sphere(centre, radius, rows=16, cols=24):
    phi = np.linspace(-np.pi / 2, np.pi / 2, rows)
    theta = np.linspace(0, 2 * np.pi, cols, endpoint=False)
    p, t = np.meshgrid(phi, theta, indexing="ij")
    # Poles collapsed to a point are fine for rendering; keep the grid topology simple.
    points = np.stack([np.cos(p) * np.sin(t), -np.cos(p) * np.cos(t), np.sin(p)], axis=-1) * radius
    return points.reshape(-1, 3) + np.asarray(centre), _grid_faces(rows, cols, wrap=True)


def _lid(centre, radius, alpha_from, alpha_to, rows=8, cols=14):
    """A band of sphere around an eye between elevation angles alpha (0 = forward)."""
    alpha = np.linspace(alpha_from, alpha_to, rows)
    beta = np.linspace(-1.35, 1.35, cols)
    a, b = np.meshgrid(alpha, beta, indexing="ij")
    points = np.stack([np.sin(b), -np.cos(b) * np.cos(a), np.cos(b) * np.sin(a)], axis=-1) * radius
    return points.reshape(-1, 3) + np.asarray(centre), _grid_faces(rows, cols, wrap=False)


def _tube(path, radii_y, radii_z, ring=8):
    """A closed-section tube along ``path`` (N x 3) with elliptic sections."""
    angles = np.linspace(0, 2 * np.pi, ring, endpoint=False)
    vertices = []
    for point, ry, rz in zip(path, radii_y, radii_z):
        for a in angles:
            vertices.append(point + np.array([0.0, ry * np.cos(a), rz * np.sin(a)]))
    faces = _grid_faces(len(path), ring, wrap=True)
    faces.append(tuple(range(ring - 1, -1, -1)))
    last = (len(path) - 1) * ring
    faces.append(tuple(last + i for i in range(ring)))
    return np.array(vertices), faces


def _eye_centre(side: float):
    x = side * EYE_X
    return np.array([x, _front(x, EYE_Z) + EYE_RADIUS * 0.55, EYE_Z])


def build_mesh() -> Mesh:
    mesh = Mesh()
    # Skin: a deformed sphere, poles at top and bottom.
    rows, cols = 48, 64
    phi = np.linspace(-np.pi / 2 * 0.97, np.pi / 2 * 0.97, rows)
    theta = np.linspace(-np.pi, np.pi, cols, endpoint=False)
    skin = skin_surface(theta[None, :], phi[:, None]).reshape(-1, 3)
    mesh.add(skin, _grid_faces(rows, cols, wrap=True), SKIN, tag="skin")

    # Hair: a cap from a smooth hairline (high at the forehead, low at the nape) to the crown.
    hair_rows = 20
    front = np.cos(theta) > 0
    hairline = np.where(front, 0.50 + 0.10 * np.sin(theta) ** 2, 0.60 - 0.95 * np.cos(theta) ** 2 * (~front))
    rows_t = np.linspace(0.0, 1.0, hair_rows)[:, None]
    hair_phi = hairline[None, :] + (np.pi / 2 * 0.97 - hairline[None, :]) * rows_t
    hair = skin_surface(np.broadcast_to(theta, hair_phi.shape), hair_phi) * 1.04
    mesh.add(hair.reshape(-1, 3), _grid_faces(hair_rows, cols, wrap=True), HAIR, tag="hair")

    # Neck.
    neck = []
    for z in np.linspace(-0.075, -0.14, 5):
        for t in theta:
            neck.append([0.046 * np.sin(t), 0.014 - 0.048 * np.cos(t), z])
    mesh.add(np.array(neck), _grid_faces(5, cols, wrap=True), SKIN, tag="neck")

    # Ears.
    for side in (1.0, -1.0):
        ear, faces = _sphere((side * (RX * 0.98), 0.008, 0.004), 1.0, rows=8, cols=12)
        ear = (ear - (side * RX * 0.98, 0.008, 0.004)) * np.array([0.006, 0.014, 0.024]) + (side * RX * 0.98, 0.008, 0.004)
        mesh.add(ear, faces, SKIN, tag="ear")

    # Eyes: eyeball with sclera/iris/pupil faces, and upper/lower lids.
    for side, name in ((1.0, "L"), (-1.0, "R")):
        centre = _eye_centre(side)
        ball, faces = _sphere(centre, EYE_RADIUS, rows=26, cols=40)
        face_centres = np.array([ball[list(f)].mean(axis=0) for f in faces]) - centre
        forward = -face_centres[:, 1] / np.linalg.norm(face_centres, axis=1)
        materials = np.where(forward > 0.965, PUPIL, np.where(forward > 0.84, IRIS, SCLERA))
        mesh.add(ball, faces, list(materials), part=SCLERA, tag=f"eye{name}")
        upper, faces = _lid(centre, LID_RADIUS, UPPER_LID_OPEN, np.radians(150))
        mesh.add(upper, faces, LID, tag=f"upperlid{name}")
        lower, faces = _lid(centre, LID_RADIUS, np.radians(-150), LOWER_LID_OPEN)
        mesh.add(lower, faces, LID, tag=f"lowerlid{name}")

    # Brows: tubes following the forehead above each eye.
    for side, name in ((1.0, "L"), (-1.0, "R")):
        xs = np.linspace(0.012, 0.052, 9)
        zs = EYE_Z + 0.024 + 0.006 * np.sin(np.linspace(0.2, np.pi * 0.9, 9)) - 0.004 * (xs > 0.045)
        path = np.array([[side * x, _front(side * x, z) - 0.002, z] for x, z in zip(xs, zs)])
        thickness = np.linspace(0.0032, 0.0020, 9)
        brow, faces = _tube(path, thickness * 0.6, thickness, ring=6)
        mesh.add(brow, faces, BROW, tag=f"brow{name}")

    # Lips: an upper and a lower tube across the mouth, tapering into the corners.
    xs = np.linspace(-MOUTH_HALF_WIDTH, MOUTH_HALF_WIDTH, 17)
    taper = np.cos(np.linspace(-1, 1, 17) * np.pi / 2) ** 0.5
    for lip, dz, height in (("upperlip", 0.0042, 0.0044), ("lowerlip", -0.0048, 0.0050)):
        zs = MOUTH_Z + dz * (0.35 + 0.65 * taper)
        path = np.array([[x, _front(x, z) - 0.0035 * taper[i] - 0.001, z] for i, (x, z) in enumerate(zip(xs, zs))])
        tube, faces = _tube(path, 0.0035 * taper + 0.0008, height * taper + 0.0006, ring=10)
        mesh.add(tube, faces, LIP, tag=lip)

    # Mouth cavity (dark), teeth and tongue: layered just in front of the skin and behind the
    # lips, so they show only where the lips part.
    cavity = []
    cavity_rows = np.linspace(MOUTH_Z - 0.007, MOUTH_Z + 0.005, 6)
    cavity_cols = np.linspace(-MOUTH_HALF_WIDTH * 0.95, MOUTH_HALF_WIDTH * 0.95, 11)
    for z in cavity_rows:
        for x in cavity_cols:
            cavity.append([x, _front(x, z) - 0.0012, z])
    mesh.add(np.array(cavity), _grid_faces(len(cavity_rows), len(cavity_cols), wrap=False), CAVITY, tag="cavity")
    for row, z0, z1 in (("upperteeth", MOUTH_Z + 0.0008, MOUTH_Z + 0.0052), ("lowerteeth", MOUTH_Z - 0.0050, MOUTH_Z - 0.0010)):
        teeth = []
        for z in (z0, z1):
            for x in np.linspace(-0.016, 0.016, 9):
                teeth.append([x, _front(x, z) - 0.0020, z])
        mesh.add(np.array(teeth), _grid_faces(2, 9, wrap=False), TEETH, tag=row)
    tongue_centre = np.array([0.0, _front(0.0, MOUTH_Z - 0.004) - 0.0016, MOUTH_Z - 0.004])
    tongue, faces = _sphere(tongue_centre, 1.0, rows=8, cols=12)
    tongue = (tongue - tongue_centre) * np.array([0.011, 0.0012, 0.0035]) + tongue_centre
    mesh.add(tongue, faces, TONGUE, tag="tongue")
    return mesh


# --- shape keys -----------------------------------------------------------------------------


def _turn(points, centre, angle, towards: int):
    """Rotate about ``centre`` in the plane of the forward direction (-Y) and axis ``towards``
    (2 = up: positive tips forward-facing points up; 0 = +X: positive turns forward to +X)."""
    p = points - centre
    forward, other = -p[:, 1], p[:, towards]
    c, s = np.cos(angle), np.sin(angle)
    out = p.copy()
    out[:, 1] = -(forward * c - other * s)
    out[:, towards] = forward * s + other * c
    return out + centre


def _rotate_x(points, centre, angle):
    return _turn(points, centre, angle, 2)


def _rotate_z(points, centre, angle):
    return _turn(points, centre, angle, 0)


class ShapeBuilder:
    """Computes every ARKit shape key's vertex positions from the basis."""

    def __init__(self, mesh: Mesh):
        self.basis, _, _, self.parts, self.tags = mesh.arrays()
        self.n = len(self.basis)

    def tag(self, *names) -> np.ndarray:
        return np.isin(self.tags, names)

    def _face_front(self) -> np.ndarray:
        return np.clip(-self.basis[:, 1] / RY, 0.0, 1.0)

    def _lower_face(self) -> np.ndarray:
        """How much each vertex follows the jaw: everything below the mouth line, fading
        towards the ears and the neck."""
        p = self.basis
        below = _smoothstep(MOUTH_Z + 0.004, MOUTH_Z - 0.010, p[:, 2])
        front = _smoothstep(0.045, -0.02, p[:, 1])
        weight = below * front
        weight[self.tag("lowerlip", "lowerteeth", "tongue")] = 1.0
        weight[self.tag("upperlip", "upperteeth", "hair", "ear") | np.isin(self.parts, (BROW, LID, SCLERA))] = 0.0
        cavity = self.tag("cavity")
        weight[cavity] = _smoothstep(MOUTH_Z + 0.003, MOUTH_Z - 0.005, p[cavity, 2])
        return weight

    def _mouth_area(self, sigma=(0.018, 0.05, 0.012)) -> np.ndarray:
        w = _gauss(self.basis, (0.0, -RY, MOUTH_Z), sigma)
        w[self.tag("upperlip", "lowerlip", "cavity")] = 1.0
        w[np.isin(self.parts, (BROW, LID, SCLERA, HAIR)) | self.tag("ear", "upperteeth", "lowerteeth", "tongue")] = 0.0
        return w * (self.basis[:, 1] < 0.02)

    def _corner(self, side: float, sigma=0.011) -> np.ndarray:
        w = _gauss(self.basis, (side * MOUTH_HALF_WIDTH, -RY, MOUTH_Z), (sigma, 0.06, sigma))
        lips = self.tag("upperlip", "lowerlip")
        w[lips] = np.maximum(w[lips], _smoothstep(0.0, MOUTH_HALF_WIDTH, side * self.basis[lips, 0]) ** 1.5)
        w[np.isin(self.parts, (BROW, LID, SCLERA, HAIR, TEETH, TONGUE, CAVITY)) | self.tag("ear")] = 0.0
        return w * (self.basis[:, 1] < 0.0)

    def _half(self, side: float) -> np.ndarray:
        return _smoothstep(-0.006, 0.010, side * self.basis[:, 0])

    def _displace(self, weights, vector) -> np.ndarray:
        return self.basis + weights[:, None] * np.asarray(vector)[None, :]

    def shapes(self) -> dict[str, np.ndarray]:
        shapes: dict[str, np.ndarray] = {}
        p = self.basis
        sides = (("Left", 1.0, "L"), ("Right", -1.0, "R"))

        for name, side, tag in sides:
            centre = _eye_centre(side)
            upper, lower, eye = self.tag(f"upperlid{tag}"), self.tag(f"lowerlid{tag}"), self.tag(f"eye{tag}")
            shapes[f"eyeBlink{name}"] = self._rotate_parts([(upper, -(UPPER_LID_OPEN - LOWER_LID_OPEN) + 0.04, centre)], _rotate_x)
            shapes[f"eyeWide{name}"] = self._rotate_parts([(upper, np.radians(14), centre), (lower, np.radians(-6), centre)], _rotate_x)
            squint = self._rotate_parts([(lower, np.radians(24), centre), (upper, np.radians(-12), centre)], _rotate_x)
            squint += _gauss(p, (side * EYE_X, -RY, EYE_Z - 0.016), (0.014, 0.05, 0.008))[:, None] * np.array([0, 0, 0.0025]) * (self.parts == SKIN)[:, None]
            shapes[f"eyeSquint{name}"] = squint
            look = {"Up": (_rotate_x, np.radians(22)), "Down": (_rotate_x, np.radians(-22)),
                    "In": (_rotate_z, np.radians(-26) * side), "Out": (_rotate_z, np.radians(26) * side)}
            for direction, (rotate, angle) in look.items():
                moved = self._rotate_parts([(eye, angle, centre)], rotate)
                if direction in ("Up", "Down"):
                    # The upper lid follows the eye a little, as real lids do.
                    moved[upper] = _rotate_x(p[upper], centre, angle * 0.35)
                shapes[f"eyeLook{direction}{name}"] = moved

            brow = self.tag(f"brow{tag}")
            forehead = _gauss(p, (side * 0.032, -RY, EYE_Z + 0.028), (0.02, 0.05, 0.014)) * (self.parts == SKIN)
            inner_ness = _smoothstep(0.05, 0.015, side * p[:, 0])
            down = np.where(brow, 1.0, 0.5 * forehead)
            shapes[f"browDown{name}"] = self.basis + down[:, None] * np.array([0, 0, -0.0085]) + (down * inner_ness)[:, None] * np.array([-side * 0.004, 0, 0])
            outer = np.where(brow, _smoothstep(0.025, 0.05, side * p[:, 0]), 0.4 * forehead * _smoothstep(0.02, 0.05, side * p[:, 0]))
            shapes[f"browOuterUp{name}"] = self._displace(outer, (0, 0, 0.0095))

            cheek = _gauss(p, (side * 0.040, -RY, -0.018), (0.018, 0.06, 0.016)) * (self.parts == SKIN) * (p[:, 1] < 0)
            shapes[f"cheekSquint{name}"] = self._displace(cheek, (0, 0, 0.006))
            shapes[f"cheekSquint{name}"][lower] = _rotate_x(p[lower], centre, np.radians(8))
            nostril = _gauss(p, (side * 0.010, -RY, -0.024), (0.008, 0.06, 0.010)) * (self.parts == SKIN)
            shapes[f"noseSneer{name}"] = self._displace(nostril, (side * 0.0015, 0.0, 0.006))

            corner = self._corner(side)
            shapes[f"mouthSmile{name}"] = self._displace(corner, (side * 0.0050, 0.004, 0.0090))
            shapes[f"mouthFrown{name}"] = self._displace(corner, (side * 0.0015, 0.0005, -0.0080))
            shapes[f"mouthDimple{name}"] = self._displace(corner, (side * 0.0030, 0.0035, 0.0005))
            stretch = corner + 0.5 * self._half(side) * self.tag("lowerlip")
            shapes[f"mouthStretch{name}"] = self._displace(np.clip(stretch, 0, 1), (side * 0.0075, 0.001, -0.0022))
            half = self._half(side)
            press = half * self.tag("upperlip") - half * self.tag("lowerlip")
            shapes[f"mouthPress{name}"] = self._displace(press, (0, 0.0008, -0.0016))
            shapes[f"mouthLowerDown{name}"] = self._displace(half * self.tag("lowerlip") + 0.6 * half * self.tag("cavity") * (p[:, 2] < MOUTH_Z), (0, 0.0005, -0.0048))
            shapes[f"mouthUpperUp{name}"] = self._displace(half * self.tag("upperlip") + 0.6 * half * self.tag("cavity") * (p[:, 2] > MOUTH_Z), (0, 0.0005, 0.0045))

        jaw = self._lower_face()
        rotated = _rotate_x(p, JAW_HINGE, np.radians(-17))
        shapes["jawOpen"] = p + jaw[:, None] * (rotated - p)
        shapes["jawForward"] = self._displace(jaw, (0, -0.0065, 0))
        shapes["jawLeft"] = self._displace(jaw, (0.007, 0, 0))
        shapes["jawRight"] = self._displace(jaw, (-0.007, 0, 0))

        upper_lip, lower_lip = self.tag("upperlip"), self.tag("lowerlip")
        mouth = self._mouth_area()
        shapes["mouthClose"] = self._displace(lower_lip * 1.0 + 0.5 * self.tag("cavity") * (p[:, 2] < MOUTH_Z), (0, 0, 0.0095)) + (upper_lip * 1.0)[:, None] * np.array([0, 0, -0.0015])
        lips = upper_lip | lower_lip
        centre_x = p[:, 0]
        funnel = self.basis.copy()
        funnel[lips, 1] -= 0.0055
        funnel[lips, 0] *= 0.82
        funnel[upper_lip, 2] += 0.003
        funnel[lower_lip, 2] -= 0.003
        cav = self.tag("cavity")
        funnel[cav, 0] *= 0.7
        funnel[cav, 2] = MOUTH_Z + (p[cav, 2] - MOUTH_Z) * 1.8
        inside = self.tag("cavity", "upperteeth", "lowerteeth", "tongue")
        # The skin around the mouth comes forward with the lips, and so does what is inside.
        shapes["mouthFunnel"] = funnel + np.maximum(mouth * ~lips, inside)[:, None] * np.array([0, -0.002, 0])
        pucker = self.basis.copy()
        pucker[lips, 1] -= 0.0075
        pucker[lips, 0] *= 0.6
        pucker[upper_lip, 2] -= 0.0008
        pucker[lower_lip, 2] += 0.0008
        around = mouth * ~lips
        pucker[:, 0] -= around * centre_x * 0.25
        pucker[:, 1] -= np.maximum(around, inside) * 0.003
        shapes["mouthPucker"] = pucker
        shapes["mouthLeft"] = self._displace(mouth, (0.0065, 0, 0))
        shapes["mouthRight"] = self._displace(mouth, (-0.0065, 0, 0))
        shapes["mouthRollLower"] = self._displace(lower_lip.astype(float), (0, 0.0042, 0.0022))
        shapes["mouthRollUpper"] = self._displace(upper_lip.astype(float), (0, 0.0040, -0.0020))
        chin = _gauss(p, (0.0, -RY, -0.075), (0.02, 0.05, 0.018)) * (self.parts == SKIN)
        shapes["mouthShrugLower"] = self._displace(np.maximum(lower_lip.astype(float), chin), (0, -0.001, 0.0035))
        shapes["mouthShrugUpper"] = self._displace(upper_lip.astype(float) + 0.4 * _gauss(p, (0.0, -RY, -0.035), (0.015, 0.05, 0.006)) * (self.parts == SKIN), (0, -0.0008, 0.0030))

        inner_brows = np.where(np.isin(self.parts, (BROW,)), _smoothstep(0.045, 0.014, np.abs(p[:, 0])), 0.0)
        forehead_centre = 0.6 * _gauss(p, (0.0, -RY, EYE_Z + 0.032), (0.02, 0.05, 0.014)) * (self.parts == SKIN)
        shapes["browInnerUp"] = self._displace(np.maximum(inner_brows, forehead_centre), (0, 0, 0.0100))
        puff = sum(_gauss(p, (side * 0.045, -RY, -0.035), (0.02, 0.08, 0.02)) for side in (1.0, -1.0)) * (self.parts == SKIN)
        puffed = self.basis.copy()
        puffed[:, 0] += puff * np.sign(p[:, 0]) * 0.008
        puffed[:, 1] -= puff * 0.004
        shapes["cheekPuff"] = puffed
        tongue = self.tag("tongue").astype(float)
        shapes["tongueOut"] = self._displace(tongue, (0, -0.013, 0.0015))
        return shapes

    def _rotate_parts(self, parts, rotate) -> np.ndarray:
        """Basis with each ``(mask, angle, centre)`` part rotated."""
        out = self.basis.copy()
        for mask, angle, centre in parts:
            out[mask] = rotate(self.basis[mask], centre, angle)
        return out
