namespace LlavaMed.Distributed;

/// <summary>Where this process stands in a job, as the launcher says: <c>mpirun</c> (Open MPI's
/// <c>OMPI_COMM_WORLD_*</c>), a PMI launcher (<c>PMI_RANK</c>/<c>PMI_SIZE</c>) or Slurm's <c>srun</c>
/// (<c>SLURM_PROCID</c>/<c>SLURM_NTASKS</c>/<c>SLURM_LOCALID</c>). Without any of them the process is alone
/// (world size 1, today's single-process path).</summary>
public sealed record LaunchEnvironment(int Rank, int WorldSize, int LocalRank, string Launcher)
{
    public static readonly LaunchEnvironment Single = new(0, 1, 0, "none");

    public bool IsDistributed => WorldSize > 1;

    public static LaunchEnvironment FromProcess() => From(Environment.GetEnvironmentVariable);

    /// <summary>Reads the first launcher whose rank and size variables are both set; a variable that is set but
    /// not a number, or a rank outside the world, is an error naming it.</summary>
    public static LaunchEnvironment From(Func<string, string?> variable)
    {
        (string Launcher, string Rank, string Size, string? Local)[] launchers =
        [
            ("mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
            ("pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
            ("slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
        ];
        foreach (var (launcher, rankName, sizeName, localName) in launchers)
        {
            if (variable(rankName) is null || variable(sizeName) is null) continue;
            int rank = Number(variable, rankName, 0), size = Number(variable, sizeName, 1);
            int local = localName is null || variable(localName) is null ? rank : Number(variable, localName, 0);
            if (rank >= size) throw new ArgumentException($"{rankName}={rank} is not below {sizeName}={size}");
            return new LaunchEnvironment(rank, size, local, launcher);
        }
        return Single;
    }

    static int Number(Func<string, string?> variable, string name, int minimum)
    {
        var text = variable(name);
        if (!int.TryParse(text, out var value) || value < minimum)
            throw new ArgumentException($"environment variable {name}='{text}' is not a whole number >= {minimum}");
        return value;
    }
}
